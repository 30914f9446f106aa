"""Escalation and alerts Alertmanager no longer reports (silenced or inhibited there, so
left out of the group's later notifications): they are not paged for, and they are again
once a notification reports them firing."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

from tests.escalation.conftest import Bot
from tests.support.payloads import notification

MIN = timedelta(minutes=1)


def p1(alerts: int = 2) -> dict[str, Any]:
    return notification(labels={"alertname": "ErrorRate", "severity": "error"}, alerts=alerts)


def only(payload: dict[str, Any], *indexes: int, resolved: tuple[int, ...] = ()) -> dict[str, Any]:
    """The group's notification with only some of its alerts (the others left out)."""
    out = copy.deepcopy(payload)
    out["alerts"] = [a for n, a in enumerate(out["alerts"]) if n in indexes]
    for n, item in enumerate(out["alerts"]):
        if indexes[n] in resolved:
            item["status"] = "resolved"
            item["endsAt"] = "2026-01-01T12:00:00Z"
    return out


def message_text(bot: Bot) -> str:
    [message] = bot.emulator.messages("C0000ALERT")
    return json.dumps(message.blocks, ensure_ascii=False)


async def test_a_p1_whose_firing_alerts_are_no_longer_reported_does_not_page(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await bot.fire(p1())
    # node-0 resolved; node-1, the only one firing, is left out (silenced in Alertmanager).
    await bot.fire(only(p1(), 0, resolved=(0,)))
    assert "1 no longer reported" in message_text(bot)
    await bot.at(5 * MIN)
    await bot.at(10 * MIN)
    assert bot.events("trigger") == []
    # Reported firing again, still unacknowledged: the page it was due is sent at once.
    await bot.at(11 * MIN)
    await bot.fire(p1())
    assert "2 firing / 2" in message_text(bot)
    await bot.at(11 * MIN)
    assert len(bot.events("trigger")) == 1
    await bot.at(20 * MIN)
    assert len(bot.events("trigger")) == 1


async def test_alerts_left_out_of_a_truncated_notification_stay_as_they_were(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    group = notification(alerts=3)
    await bot.fire(group)
    truncated = only(group, 0, 1)
    truncated["truncatedAlerts"] = 1  # max_alerts: node-2 may be the one left out
    await bot.fire(truncated)
    text = message_text(bot)
    assert "3 firing / 3" in text and "no longer reported" not in text
    await bot.fire(only(group, 0, 1))  # complete: node-2 is no longer reported
    text = message_text(bot)
    assert "2 firing / 3" in text and "1 no longer reported" in text

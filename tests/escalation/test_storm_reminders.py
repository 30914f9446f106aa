"""Escalation of a group folded into a storm summary runs as for any group: its reminder
goes to the summary's thread, naming the group, and nothing is posted on its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from tests.escalation.conftest import Bot
from tests.storm.conftest import group_notification

CHANNEL = "C0000ALERT"


async def test_a_folded_p2_is_reminded_in_the_summarys_thread(
    sqlite_url: str, start_bot: Any, emulator: SlackEmulator, example_config: Config
) -> None:
    alerts = example_config.alerts.model_copy(update={"storm_threshold": 1})
    bot: Bot = await start_bot(
        sqlite_url, config=example_config.model_copy(update={"alerts": alerts})
    )
    # Two posts held back by a long Retry-After: the channel's queue is past 1 s.
    emulator.fail_next("chat.postMessage", status=429, retry_after=3600, times=2)
    for index in range(3):
        await bot.fire(group_notification(index, alerts=2))
    [summary] = [m for m in emulator.messages(CHANNEL) if m.text.startswith("🌩")]
    assert "Storm002" in summary.text

    await bot.at(timedelta(minutes=31))  # P2: one reminder after 30 minutes
    [reminder] = emulator.replies(CHANNEL, summary.ts)
    assert "Storm002" in reminder.text and "Reminder" in reminder.text
    assert [m for m in emulator.messages(CHANNEL) if "Storm002" in m.text] == [summary]

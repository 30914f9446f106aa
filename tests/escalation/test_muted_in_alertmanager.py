"""A P1 whose every alert is silenced in Alertmanager does not page: Alertmanager sends
no notification for a group it mutes whole, so the bot asks it before paging (Debian's
real Alertmanager), and again every minute; once the silence is gone the page goes out."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from actions.alertmanager import AlertmanagerClient
from bot.storage.models import WebhookDelivery
from tests.conftest import WEBHOOK_TOKEN
from tests.escalation.conftest import Bot
from tests.support.alertmanager import RunningAlertmanager, alert, alertmanager

MIN = timedelta(minutes=1)


def error_rate(instance: str) -> dict[str, Any]:
    labels = {"alertname": "ErrorRate", "service": "api", "severity": "error"}
    return alert({**labels, "instance": instance}, {"summary": "errors"})


async def silence(am: RunningAlertmanager) -> str:
    now = datetime.now(UTC)
    body = {
        "matchers": [{"name": "alertname", "value": "ErrorRate", "isRegex": False}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "oncall",
        "comment": "known, being fixed",
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{am.url}/api/v2/silences", json=body) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["silenceID"])


async def delivered(bot: Bot, count: int) -> None:
    """Wait until Alertmanager's `count`th notification is stored by the bot."""
    for _ in range(200):
        async with bot.service.sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        if (stored or 0) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"Alertmanager's notification {count} never came")


async def test_a_p1_silenced_whole_in_alertmanager_does_not_page(
    sqlite_url: str, start_bot, tmp_path: Path
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    hook = f"{bot.url}/webhooks/alertmanager"
    async with alertmanager(hook, WEBHOOK_TOKEN, tmp_path) as am:
        assert bot.service.http is not None
        bot.service.alertmanager = AlertmanagerClient(bot.service.http, am.url)
        await am.push([error_rate("api-1"), error_rate("api-2")])
        await delivered(bot, 1)
        await bot.tick()
        assert len(bot.emulator.messages("C0000ALERT")) == 1
        silence_id = await silence(am)  # the whole group: Alertmanager says nothing more

        await bot.at(5 * MIN)
        assert bot.events("trigger") == []
        [message] = bot.emulator.messages("C0000ALERT")
        text = json.dumps(message.blocks, ensure_ascii=False)
        assert "0 firing / 2" in text and "2 no longer reported" in text

        async with aiohttp.ClientSession() as http:
            await http.delete(f"{am.url}/api/v2/silence/{silence_id}")
        # Alertmanager does not notify the end of the silence (not until repeat_interval):
        # the held page asks it again a minute later, and goes out.
        await bot.at(6 * MIN)
        assert len(bot.events("trigger")) == 1
        [message] = bot.emulator.messages("C0000ALERT")
        assert "2 firing / 2" in json.dumps(message.blocks, ensure_ascii=False)

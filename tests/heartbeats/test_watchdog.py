"""Alertmanager's Watchdog through Debian's real Alertmanager: a heartbeat, never an alert.

Alertmanager re-sends the always-firing Watchdog every `repeat_interval` (2s here); the bot
takes each notification as the heartbeat's signal. Stopped, the heartbeat goes late after
`every + grace` (virtual time), pages, and resolves when the Watchdog comes back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.config import Config
from bot.heartbeats.models import Heartbeat
from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import WebhookDelivery
from oncall.config import HeartbeatConfig
from tests.conftest import WEBHOOK_TOKEN
from tests.escalation.conftest import Bot
from tests.support.alertmanager import CONFIG, alertmanager

WATCHDOG = HeartbeatConfig(
    name="watchdog",
    every=timedelta(minutes=1),  # type: ignore[arg-type]
    grace=timedelta(seconds=30),  # type: ignore[arg-type]
    match={"alertname": "Watchdog"},
    channel="C0000ALERT",
)
# Alertmanager repeats a firing group every 2 s instead of every hour.
REPEATING = CONFIG.replace("repeat_interval: 1h", "repeat_interval: 2s")


def watchdog(*, stopped: bool = False) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": "Watchdog", "severity": "none"},
        "annotations": {"summary": "Alerting works end to end"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
        "endsAt": (now - timedelta(seconds=1) if stopped else now + timedelta(hours=1)).isoformat(),
    }


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_stopped_watchdog_goes_late_pages_and_resolves_when_it_returns(
    sqlite_url: str, start_bot: Any, emulator: SlackEmulator, example_config: Config, tmp_path: Path
) -> None:
    config = example_config.model_copy(update={"heartbeats": [WATCHDOG]})
    bot: Bot = await start_bot(sqlite_url, config=config)
    service = bot.service
    statuses: list[str] = []
    take = service.heartbeats.take

    def spy(notification: Any) -> Any:
        statuses.extend(alert.status for alert in notification.alerts)
        return take(notification)

    service.heartbeats.take = spy

    async def last_seen() -> datetime | None:
        async with service.sessions() as session:
            row = await session.get(Heartbeat, "watchdog", populate_existing=True)
            return row.last_seen_at if row else None

    async with alertmanager(
        f"{bot.url}/webhooks/alertmanager", WEBHOOK_TOKEN, tmp_path, config_template=REPEATING
    ) as am:
        await am.push([watchdog()])
        await until(lambda: _equals(last_seen(), bot.now()), "the first Watchdog")
        bot.running.clock.advance(1)
        # A second notification of the same group: Alertmanager's repeat.
        await until(lambda: _equals(last_seen(), bot.now()), "the repeated Watchdog")
        stopped_at = bot.now()

        await am.push([watchdog(stopped=True)])
        await until(lambda: _true("resolved" in statuses), "the resolved Watchdog")
        bot.running.clock.advance(timedelta(seconds=89))
        await bot.tick()
        assert not [m for m in emulator.messages("C0000ALERT") if "late" in m.text]
        assert await last_seen() == stopped_at  # a resolved Watchdog is no signal

        bot.running.clock.advance(1)  # every + grace after the last signal
        await bot.tick()
        await bot.tick()
        [late] = [m.text for m in emulator.messages("C0000ALERT") if "is late" in m.text]
        assert "*watchdog*" in late and "no signal for 1m (last at 2026-01-01 12:00:01 UTC)" in late
        [trigger] = bot.events("trigger")
        assert trigger["dedup_key"] == "chatops:heartbeat:watchdog"

        bot.running.clock.advance(timedelta(minutes=3))
        await am.push([watchdog()])
        await until(lambda: _equals(last_seen(), bot.now()), "the returning Watchdog")
        await bot.tick()
        [back] = [m.text for m in emulator.messages("C0000ALERT") if "is back" in m.text]
        assert "after 4m of silence" in back
        [resolve] = bot.events("resolve")
        assert resolve["dedup_key"] == trigger["dedup_key"]

    # The Watchdog was never stored or posted as an alert.
    async with service.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    assert all("Watchdog" not in m.text for m in emulator.messages("C0000ALERT"))


async def _equals(value: Awaitable[datetime | None], expected: datetime) -> bool:
    return await value == expected


async def _true(value: bool) -> bool:
    return value

"""`POST /heartbeats/backup`: the backup job's signal, its lateness, its page, its return."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import Config
from bot.heartbeats.models import Heartbeat
from bot.sandbox.emulator import SlackEmulator
from oncall.config import HeartbeatConfig
from tests.conftest import WEBHOOK_TOKEN
from tests.escalation.conftest import Bot
from tests.support.payloads import notification

BACKUP = HeartbeatConfig(
    name="backup", every=timedelta(hours=1), grace=timedelta(minutes=5), channel="C0000ALERT"
)  # type: ignore[arg-type]
LATE_KEY = "chatops:heartbeat:backup"


def with_backup(config: Config) -> Config:
    return config.model_copy(update={"heartbeats": [BACKUP]})


async def post(bot: Bot, name: str, token: str = WEBHOOK_TOKEN) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{bot.url}/heartbeats/{name}", headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        return response.status


def said(emulator: SlackEmulator, words: str) -> list[str]:
    return [m.text for m in emulator.messages("C0000ALERT") if words in m.text]


async def last_seen(bot: Bot, name: str = "backup") -> float:
    """The heartbeat's sample on /metrics."""
    for family in text_string_to_metric_families(await bot.metrics()):
        for sample in family.samples:
            if sample.name == "chatops_heartbeat_last_seen_timestamp_seconds":
                if sample.labels == {"name": name}:
                    return float(sample.value)
    raise AssertionError(f"no heartbeat sample for {name}")


def page_events(bot: Bot, action: str) -> list[dict[str, Any]]:
    return [e for e in bot.events(action) if e.get("dedup_key") == LATE_KEY]


async def test_a_backup_that_stops_signalling_is_posted_paged_and_resolved_when_back(
    database_url: str, start_bot: Any, emulator: SlackEmulator, example_config: Config
) -> None:
    bot: Bot = await start_bot(database_url, config=with_backup(example_config))
    assert await post(bot, "backup", token="wrong") == 401
    assert await post(bot, "nightly") == 404
    assert await post(bot, "backup") == 200
    seen_at = bot.now()

    await bot.at(timedelta(hours=1, minutes=4, seconds=59))
    assert not said(emulator, "late")

    await bot.at(timedelta(hours=1, minutes=5))
    await bot.tick()  # the page queued by the pass goes out at the next one
    [late] = said(emulator, "Heartbeat *backup* is late")
    assert "no signal for 1h 5m" in late and "P1" in late
    [trigger] = page_events(bot, "trigger")
    assert trigger["payload"]["severity"] == "error"  # P1
    assert "backup" in trigger["payload"]["summary"]

    # Still late later and after a restart: said and paged once.
    await bot.running.stop()
    bot = await start_bot(database_url, config=with_backup(example_config), clock=bot.running.clock)
    await bot.tick()
    await bot.at(timedelta(minutes=30))
    assert len(said(emulator, "is late")) == 1
    assert len(page_events(bot, "trigger")) == 1

    bot.running.clock.advance(timedelta(minutes=25))  # 2h after the last signal
    assert await post(bot, "backup") == 200
    await bot.tick()
    [back] = said(emulator, "is back")
    assert "back after 2h of silence" in back
    [resolve] = page_events(bot, "resolve")
    assert resolve["dedup_key"] == trigger["dedup_key"]

    assert await last_seen(bot) == (seen_at + timedelta(hours=2)).timestamp()


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_a_heartbeat_never_heard_is_late_every_plus_grace_after_the_start(
    database_url: str, start_bot: Any, emulator: SlackEmulator, example_config: Config
) -> None:
    bot: Bot = await start_bot(database_url, config=with_backup(example_config))
    await bot.at(timedelta(hours=1, minutes=4))
    assert not said(emulator, "late")
    await bot.at(timedelta(hours=1, minutes=5))
    await bot.tick()
    [late] = said(emulator, "is late")
    assert "since the bot started watching it" in late
    assert len(page_events(bot, "trigger")) == 1
    assert await last_seen(bot) == 0


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_a_watchdog_grouped_with_other_alerts_signals_and_only_the_others_are_posted(
    database_url: str, start_bot: Any, emulator: SlackEmulator, example_config: Config
) -> None:
    watchdog = HeartbeatConfig(
        name="watchdog",
        every=timedelta(minutes=1),  # type: ignore[arg-type]
        match={"alertname": "Watchdog"},
        channel="C0000ALERT",
    )
    config = example_config.model_copy(update={"heartbeats": [watchdog]})
    bot: Bot = await start_bot(database_url, config=config)
    body = notification(alerts=2, labels={"severity": "warning"})
    body["alerts"][0]["labels"]["alertname"] = "Watchdog"
    await bot.fire(body)
    async with bot.service.sessions() as session:
        row = await session.get(Heartbeat, "watchdog")
        assert row is not None and row.last_seen_at == bot.now()
    [message] = emulator.messages("C0000ALERT")
    assert "DiskFull" in message.text + str(message.blocks)
    assert "Watchdog" not in message.text + str(message.blocks)


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_a_due_time_that_passed_while_the_bot_was_down_counts_from_the_restart(
    database_url: str, start_bot: Any, emulator: SlackEmulator, example_config: Config
) -> None:
    bot: Bot = await start_bot(database_url, config=with_backup(example_config))
    assert await post(bot, "backup") == 200
    await bot.running.stop()
    clock = bot.running.clock
    clock.advance(timedelta(hours=3))  # down for longer than every + grace
    bot = await start_bot(database_url, config=with_backup(example_config), clock=clock)
    await bot.tick()
    assert not said(emulator, "late")  # what arrived while nobody listened is unknown
    await bot.at(timedelta(hours=1, minutes=5))  # every + grace after the restart
    await bot.tick()
    [late] = said(emulator, "is late")
    assert "no signal for 4h 5m" in late

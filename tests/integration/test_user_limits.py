"""The per-user limits hold across replicas and restarts: two services on one PostgreSQL
and a restart let exactly `deploy.commands_per_minute` commands through, and a person
hammering buttons is told to slow down while their extra clicks do nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import AlertGroup
from tests.conftest import RunningService, StartService, bolt_listeners_done
from tests.support.databases import fresh_database
from tests.support.payloads import notification

USER = "U0000ONC01"
LIMITED = "Slow down: at most 20 commands per minute per person. Try again in "


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("postgres", tmp_path) as url:
        yield url


def limited(config: Config, **limits: int) -> Config:
    return config.model_copy(update={"deploy": config.deploy.model_copy(update=limits)})


async def command(emulator: SlackEmulator, bot: RunningService) -> str:
    emulator.bot_url = f"{bot.url}/slack/events"
    response = await emulator.send_command("/deploy", "help", user=USER, channel="C0000DEPLY")
    assert response.status == 200
    assert isinstance(response.json, dict)
    return str(response.json.get("text", ""))


async def test_twenty_commands_across_two_replicas_and_a_restart_then_the_limit(
    pg_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    config = limited(example_config, commands_per_minute=20)
    a = await start_service(pg_url, config=config)
    b = await start_service(pg_url, config=config, clock=FakeClock(a.clock.now()))
    answers = [await command(emulator, bot) for bot in (a, b) * 5]
    await a.stop()
    restarted = await start_service(pg_url, config=config, clock=FakeClock(a.clock.now()))
    answers += [await command(emulator, bot) for bot in (b, restarted) * 5]
    assert len(answers) == 20 and not [text for text in answers if text.startswith("Slow")]

    refused = [await command(emulator, bot) for bot in (restarted, b)]

    assert all(text.startswith(LIMITED) for text in refused), refused


async def groups_acked(bot: RunningService) -> list[str | None]:
    async with bot.service.sessions() as session:
        return [
            (await session.get(AlertGroup, group_id, populate_existing=True)).acked_by  # type: ignore[union-attr]
            for group_id in (1, 2, 3)
        ]


async def test_button_clicks_past_the_limit_do_nothing_and_say_slow_down(
    pg_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    config = limited(example_config, clicks_per_minute=2)
    a = await start_service(pg_url, config=config)
    b = await start_service(pg_url, config=config, clock=FakeClock(a.clock.now()))
    for name in ("DiskFull", "MemoryHigh", "CpuHigh"):
        await a.deliver(notification(f'{{}}:{{alertname="{name}"}}', labels={"alertname": name}))
    await a.settle()
    messages = {
        m.text.split(": ")[0]: m for c in emulator.store.channels for m in emulator.messages(c)
    }
    assert len(messages) == 3, messages.keys()

    for group_id, bot in zip((1, 2, 3), (a, b, a), strict=True):
        emulator.bot_url = f"{bot.url}/slack/events"
        message = next(m for m in messages.values() if f"'value': '{group_id}'" in str(m.blocks))
        response = await emulator.send_block_action(
            user=USER,
            action_id="alert.ack",
            value=str(group_id),
            channel=message.channel,
            message_ts=message.ts,
        )
        assert response.status == 200
        await bolt_listeners_done()
    await a.settle()
    await b.settle()

    assert await groups_acked(a) == [USER, USER, None]  # the third click did nothing
    slow = [e.text for e in emulator.ephemerals if "Slow down" in e.text]
    assert slow == [
        "Slow down: at most 2 button clicks per minute per person. That click did nothing; "
        "try again in 60s."
    ]

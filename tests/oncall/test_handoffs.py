"""Handoffs: posted once at the scheduled time, the user group set once, across two
replicas on one PostgreSQL and a restart; an override in PagerDuty is followed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from tests.escalation.conftest import Bot
from tests.oncall.conftest import ADA, HANDOFF, START, with_oncall
from tests.servers.pagerduty import PagerDutyServer
from tests.support.databases import fresh_database


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("postgres", tmp_path) as url:
        yield url


def handoffs(emulator: SlackEmulator) -> list[str]:
    return [m.text for m in emulator.messages("C0000ALERT") if m.text.startswith("On call for")]


def group_updates(emulator: SlackEmulator) -> list[list[str]]:
    updates = []
    for call in emulator.calls("usergroups.users.update"):
        users = call.args.get("users")
        updates.append(users.split(",") if isinstance(users, str) else list(users))
    return updates


async def both_pass(*bots: Bot) -> None:
    """A timer pass on each replica at once: only the timer holder runs the handoffs."""
    await asyncio.gather(*(bot.service.escalation.run_once() for bot in bots))
    for bot in bots:
        await bot.running.settle()


async def test_a_handoff_posts_once_and_sets_the_group_once_across_replicas_and_a_restart(
    pg_url: str,
    start_bot: Any,
    emulator: SlackEmulator,
    example_config: Config,
    account: PagerDutyServer,
) -> None:
    account.oncall.schedules["PSCHED1"].time_zone = "Europe/Madrid"
    config = with_oncall(
        example_config, usergroups={"PSCHED1": "S0000ONCAL"}, channels={"api": "C0000ALERT"}
    )
    a: Bot = await start_bot(pg_url, config=config, clock=FakeClock(START))
    b: Bot = await start_bot(pg_url, config=config, clock=FakeClock(START))

    await both_pass(a, b)
    assert handoffs(emulator) == []  # the first reading is no handoff
    assert group_updates(emulator) == [["U0000ONC01"]]

    for bot in (a, b):
        bot.running.clock.advance(HANDOFF - START)
    await both_pass(a, b)
    await asyncio.gather(a.service.oncall.handoffs.poll(), b.service.oncall.handoffs.poll())
    await a.running.settle()
    assert handoffs(emulator) == [
        f"On call for api is now <@{ADA}> until Mon 12 Jan 09:00 (was <@U0000ONC01>)"
    ]
    assert group_updates(emulator) == [["U0000ONC01"], [ADA]]
    assert emulator.store.usergroups["S0000ONCAL"].users == [ADA]

    await a.running.stop()
    a = await start_bot(pg_url, config=config, clock=FakeClock(HANDOFF + timedelta(minutes=2)))
    b.running.clock.advance(timedelta(minutes=2))
    await both_pass(a, b)
    assert len(handoffs(emulator)) == 1
    assert len(group_updates(emulator)) == 2


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_an_override_in_pagerduty_is_followed(
    database_url: str,
    start_bot: Any,
    emulator: SlackEmulator,
    example_config: Config,
    account: PagerDutyServer,
) -> None:
    config = with_oncall(
        example_config, usergroups={"PSCHED1": "S0000ONCAL"}, channels={"api": "C0000ALERT"}
    )
    bot: Bot = await start_bot(database_url, config=config, clock=FakeClock(START))
    await bot.tick()
    # Olu swaps two hours of Ada's first morning.
    account.oncall.override("PSCHED1", "P0000ONC01", HANDOFF, HANDOFF + timedelta(hours=2))
    bot.running.clock.advance(HANDOFF - START)
    await bot.tick()
    assert handoffs(emulator) == []  # still Olu: no handoff at 08:00
    bot.running.clock.advance(timedelta(hours=2))
    await bot.tick()
    assert handoffs(emulator) == [
        f"On call for api is now <@{ADA}> until Mon 12 Jan 08:00 (was <@U0000ONC01>)"
    ]
    assert group_updates(emulator)[-1] == [ADA]

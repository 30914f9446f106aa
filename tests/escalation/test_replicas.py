"""Two bot services on one PostgreSQL: one page per due step, and timers fail over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.clock import FakeClock
from tests.escalation.conftest import Bot
from tests.support.databases import fresh_database
from tests.support.payloads import notification


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("postgres", tmp_path) as url:
        yield url


async def test_two_services_send_exactly_one_page_per_due_step(pg_url: str, start_bot) -> None:
    a: Bot = await start_bot(pg_url)
    b: Bot = await start_bot(pg_url, clock=FakeClock(a.now()))
    await a.fire(notification(labels={"severity": "error"}))  # P1: page at minute 5
    for bot in (a, b):
        bot.running.clock.advance(timedelta(minutes=5))
    ran: list[int] = []
    for _ in range(3):  # both race for the same step and the same page, repeatedly
        ran += await asyncio.gather(
            a.service.escalation.engine.run_due(a.now()),
            b.service.escalation.engine.run_due(b.now()),
        )
        await asyncio.gather(
            a.service.escalation.sender.drain(), b.service.escalation.sender.drain()
        )
    assert len(a.events("trigger")) == 1
    assert sum(ran) == 1  # the page step ran once, in one of the two services


async def test_one_timer_holder_and_the_other_takes_over_when_it_stops(
    pg_url: str, start_bot
) -> None:
    a: Bot = await start_bot(pg_url)
    b: Bot = await start_bot(pg_url)
    leader_a, leader_b = a.service.escalation.leader, b.service.escalation.leader
    assert await leader_a.try_acquire() is True
    assert await leader_b.try_acquire() is False
    assert await leader_a.try_acquire() is True  # still held
    await a.running.stop()
    assert await leader_b.try_acquire() is True


async def test_the_holders_connection_dying_hands_the_timers_over(pg_url: str, start_bot) -> None:
    a: Bot = await start_bot(pg_url)
    b: Bot = await start_bot(pg_url)
    assert await a.service.escalation.leader.try_acquire() is True
    async with b.service.engine.connect() as conn:
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks "  # waits for it to exit
                "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() "
                # Only this test's database: other tests share the server.
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
        await conn.commit()
    assert await b.service.escalation.leader.try_acquire() is True
    assert await a.service.escalation.leader.try_acquire() is False

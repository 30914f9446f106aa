"""The timer holder's figures after the lock moves: no replica exports a stale count.

Two bot services share one PostgreSQL database, as two replicas do. Prometheus rules and
the dashboard read max() across replicas, so a replica that lost the timer lock must not
keep exporting the page counts it had as holder, and a late escalation must show even
when the holder has stopped making progress.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import FakeClock
from bot.replicas.timer_leader import TIMER_LOCK_ID
from tests.escalation.conftest import Bot
from tests.support.databases import fresh_database
from tests.support.payloads import notification

HOLDER_FIGURES = (
    "chatops_timer_leader",
    "chatops_pagerduty_pages_pending",
    "chatops_pagerduty_pages_failed",
)


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("postgres", tmp_path) as url:
        yield url


def figures(bot: Bot) -> dict[str, float | None]:
    registry = bot.service.metrics.registry
    return {name: registry.get_sample_value(name) for name in HOLDER_FIGURES}


def p0(name: str) -> dict:  # type: ignore[type-arg]
    return notification(
        group_key=f'{{}}:{{alertname="{name}"}}',
        labels={"alertname": name, "severity": "critical"},
    )


async def holder_and_standby(pg_url: str, start_bot) -> tuple[Bot, Bot]:  # type: ignore[no-untyped-def]
    """Two replicas at the same virtual time; the first has taken the timer lock."""
    holder: Bot = await start_bot(pg_url)
    standby: Bot = await start_bot(pg_url, clock=FakeClock(holder.now()))
    assert await holder.service.escalation.run_once() is True
    assert await standby.service.escalation.run_once() is False
    return holder, standby


async def kill_lock_connection(engine: AsyncEngine, lock_id: int) -> None:
    """What a network cut or a database fail-over does to a lock's holder: the connection
    holding the advisory lock dies and PostgreSQL frees the lock, while the process lives
    on and only notices on its next turn."""
    async with engine.connect() as conn:
        killed = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_locks "  # waits for the exit
                "WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND ((classid::bigint << 32) | objid::bigint) = :lock "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"lock": lock_id},
        )
        await conn.commit()
    assert killed == 1


async def test_a_former_holder_reports_no_pages_and_the_new_holder_the_databases_count(
    pg_url: str, start_bot
) -> None:
    a, b = await holder_and_standby(pg_url, start_bot)

    # One page PagerDuty refuses for good, one it cannot take yet (retried later).
    a.pd.fail_next("/v2/enqueue", 400, body={"status": "invalid event", "message": "bad"})
    await a.fire(p0("ApiDown"))
    a.pd.fail_next("/v2/enqueue", 500, times=5)
    await a.fire(p0("DbDown"))
    await a.service.escalation.run_once()
    held = {"chatops_timer_leader": 1.0, **dict.fromkeys(HOLDER_FIGURES[1:], 1.0)}
    standby = dict.fromkeys(HOLDER_FIGURES, 0.0)
    assert figures(a) == held
    assert figures(b) == standby

    await kill_lock_connection(a.service.engine, TIMER_LOCK_ID)
    assert await b.service.escalation.run_once() is True
    assert await a.service.escalation.run_once() is False

    assert figures(a) == standby, "the former holder still exports its last page counts"
    assert figures(b) == held  # the same pages, counted from the database on its first pass


async def test_a_standby_shows_the_lag_of_steps_a_stuck_holder_does_not_run(
    pg_url: str, start_bot
) -> None:
    # b takes the lock and then makes no further pass (hung on a call, or starved).
    b, a = await holder_and_standby(pg_url, start_bot)

    await a.running.deliver(notification(labels={"severity": "error"}))  # P1: page at 5m
    await a.running.settle()
    a.running.clock.advance(timedelta(minutes=7))
    assert await a.service.escalation.run_once() is False

    oldest = await a.service.escalation.engine.next_due()
    assert oldest is not None
    late = (a.now() - oldest).total_seconds()
    assert late >= 120  # the page step, two minutes overdue: past the alert's 60 s
    registry = a.service.metrics.registry
    assert registry.get_sample_value("chatops_escalation_lag_seconds") == late
    # The stuck holder's own figure is from its last pass; max() over both shows the lag.
    assert b.service.metrics.registry.get_sample_value("chatops_escalation_lag_seconds") == 0

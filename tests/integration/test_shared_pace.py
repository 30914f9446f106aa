"""Two replicas' claimers over one database spend one bucket per channel.

Each claimer has its own `SharedPace`, as two `chatops serve` processes would: what one
spends, or a Retry-After one is told, holds for the other. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.replicas.claims import Replica
from bot.slack.outbox.claiming import Claimer
from bot.slack.outbox.shared_pace import SharedPace
from bot.slack.outbox_queue import enqueue
from bot.storage import migrate
from bot.storage.engine import create_engine, session_factory

T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
CHANNEL = "C0000ALERT"


async def queue(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, count: int, priority: int = 2
) -> None:
    async with sessions.begin() as session:
        for n in range(count):
            await enqueue(
                session,
                op="post",
                channel=CHANNEL,
                payload={"text": f"P{priority} #{n}"},
                message_key=f"alert-group:{priority}{n}",
                priority=priority,
                now=clock.now(),
            )


def replica(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> tuple[Claimer, SharedPace]:
    pace = SharedPace(sessions)
    return Claimer(sessions, clock, pace, Replica(sessions.kw["bind"]), batch=50), pace


async def test_a_token_spent_by_one_replica_is_gone_for_the_other(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    clock = FakeClock(T0)
    a, _ = replica(sessions, clock)
    b, _ = replica(sessions, clock)
    await queue(sessions, clock, 10)
    try:
        first = await a.claim()
        # A full bucket holds 3; a P2 leaves the 1.25 reserve, so one P2 goes at once.
        assert len(first.rows) == 1
        second = await b.claim()
        assert second.rows == []  # a pacer of b's own would have let one more through
        assert second.next_at is not None and second.next_at > clock.now().timestamp()

        await queue(sessions, clock, 1, priority=0)
        urgent = await b.claim()  # the reserve is the P0's, whichever replica claims it
        assert [r.priority for r in urgent.rows] == [0]

        clock.advance(60)  # a quiet minute refills the bucket to its burst, no more
        taken = [len((await claimer.claim()).rows) for claimer in (a, b, a, b)]
        assert sum(taken) == 1
    finally:
        await engine.dispose()


async def test_a_retry_after_told_to_one_replica_holds_the_other(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    clock = FakeClock(T0)
    _, a_pace = replica(sessions, clock)
    b, _ = replica(sessions, clock)
    await queue(sessions, clock, 1, priority=0)
    try:
        await a_pace.ensure([CHANNEL], clock.now().timestamp())
        await a_pace.throttled(CHANNEL, clock.now().timestamp(), retry_after=2.0)
        clock.advance(timedelta(seconds=1.9))
        held = await b.claim()
        assert held.rows == []
        assert held.next_at == (T0 + timedelta(seconds=2)).timestamp()
        clock.advance(timedelta(seconds=0.1))
        assert [r.priority for r in (await b.claim()).rows] == [0]
    finally:
        await engine.dispose()

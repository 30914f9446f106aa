"""Two replicas' claimers over one database spend one bucket per channel.

Each claimer has its own `SharedPace`, as two `chatops serve` processes would: what one
spends, or a Retry-After one is told, holds for the other. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.metrics import Metrics
from bot.replicas.claims import Replica
from bot.sandbox.emulator import SlackEmulator
from bot.slack.outbox.claiming import Claimer
from bot.slack.outbox.sending import make_client
from bot.slack.outbox.shared_pace import SharedPace
from bot.slack.outbox.worker import Outbox
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


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()


def replica(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> tuple[Claimer, SharedPace]:
    pace = SharedPace(sessions)
    return Claimer(sessions, clock, pace, Replica(sessions.kw["bind"]), batch=50), pace


async def test_a_token_spent_by_one_replica_is_gone_for_the_other(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock(T0)
    a, _ = replica(sessions, clock)
    b, _ = replica(sessions, clock)
    await queue(sessions, clock, 10)
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


async def test_a_retry_after_told_to_one_replica_holds_the_other(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock(T0)
    _, a_pace = replica(sessions, clock)
    b, _ = replica(sessions, clock)
    await queue(sessions, clock, 1, priority=0)
    await a_pace.ensure([CHANNEL], clock.now().timestamp())
    await a_pace.throttled(CHANNEL, clock.now().timestamp(), retry_after=2.0)
    clock.advance(timedelta(seconds=1.9))
    held = await b.claim()
    assert held.rows == []
    assert held.next_at == (T0 + timedelta(seconds=2)).timestamp()
    clock.advance(timedelta(seconds=0.1))
    assert [r.priority for r in (await b.claim()).rows] == [0]


async def test_updates_spend_one_workspace_bucket_beside_the_channels(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """chat.update is limited per workspace (Tier 3), posts per channel: 25 updates in 25
    channels wait for the update bucket, a post in any of those channels does not."""
    clock = FakeClock(T0)
    claimer, _ = replica(sessions, clock)
    async with sessions.begin() as session:
        for n in range(25):
            await enqueue(
                session,
                op="update",
                channel=f"C{n:09d}",
                payload={"text": f"summary {n}"},
                message_key=f"storm:{n}",
                priority=1,
                now=clock.now(),
            )
    first = await claimer.claim()
    # A burst of 20, 1.25 of it kept for P0/P1 groups' own messages.
    assert len(first.rows) == 18
    assert (await claimer.claim()).rows == []
    await queue(sessions, clock, 1)  # a P2 post: its channel's bucket is full
    assert [r.op for r in (await claimer.claim()).rows] == ["post"]
    clock.advance(timedelta(seconds=1.2))  # 50 a minute: one more update
    assert [r.op for r in (await claimer.claim()).rows] == ["update"]


async def test_an_update_refused_429_holds_updates_not_the_channel(
    sessions: async_sessionmaker[AsyncSession], emulator: SlackEmulator
) -> None:
    clock = FakeClock(T0)
    outbox = Outbox(sessions, make_client(emulator.token, emulator.base_url), clock, Metrics())
    try:
        await queue(sessions, clock, 1)
        assert await outbox.drain_once() == 1  # the group's message
        emulator.fail_next("chat.update", status=429, retry_after=30)
        async with sessions.begin() as session:
            await enqueue(
                session,
                op="update",
                channel=CHANNEL,
                payload={"text": "resolved"},
                message_key="alert-group:20",
                now=clock.now(),
            )
        await outbox.drain_once()
        assert emulator.calls("chat.update")[-1].status == 429

        clock.advance(timedelta(seconds=5))
        async with sessions.begin() as session:  # another update, another message
            await enqueue(
                session,
                op="update",
                channel="C0000DEPLY",
                payload={"text": "other"},
                message_key="alert-group:99",
                now=clock.now(),
            )
        await queue(sessions, clock, 1, priority=1)  # a P1 group's post in the same channel
        await outbox.drain_once()
        posts = [c for c in emulator.calls("chat.postMessage") if c.args["channel"] == CHANNEL]
        assert [c.status for c in posts] == [200, 200]  # the channel was not held
        assert len(emulator.calls("chat.update")) == 1  # updates wait for Retry-After
        # Retry-After ends at +30 with one token refilled, which a P2's update may not
        # spend; 1.2 s later the reserve is back and one goes.
        clock.advance(timedelta(seconds=25))
        await outbox.drain_once()
        assert len(emulator.calls("chat.update")) == 1
        clock.advance(timedelta(seconds=2))
        await outbox.drain_once()
        assert [c.status for c in emulator.calls("chat.update")][1:] == [200]
    finally:
        await outbox.close()

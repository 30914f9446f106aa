"""Claiming: which rows a replica sends next.

Each pass reads the first few due rows of every channel (`PER_CHANNEL`), in priority order
(P0 first), oldest first within a priority, then, holding those channels' shared buckets
(shared_pace.py), keeps the rows their pacing lets through and claims them (state
`sending`, `claimed_by` this replica) with one conditional UPDATE, so two replicas never
send the same row nor spend the same token. A channel stops at its first row that cannot
go yet, so nothing jumps ahead within a channel. Channels with a call of this replica in
flight are not claimed for (`busy`): their next call waits for that one, nobody else's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.replicas.claims import Replica
from bot.slack.outbox.pacing import URGENT_PRIORITY, Pacer, bucket_of, is_urgent
from bot.slack.outbox.parents import Parents, load_parents
from bot.slack.outbox.shared_pace import SharedPace
from bot.storage.models import OutboxEntry

PER_CHANNEL = 5  # rows per channel considered in one pass

# Called with the rows just claimed, in the claiming transaction, before they are sent: a
# row may be queued as "changed" and given its content only now (bot/alerts/storm.py's
# summary).
Prepare = Callable[[AsyncSession, Sequence[OutboxEntry]], Awaitable[None]]


@dataclass
class Claim:
    """The rows claimed by one pass, and when the next pass has something to do."""

    rows: list[OutboxEntry] = field(default_factory=list)
    parents: Parents = field(default_factory=dict)
    # When a row becomes due or a paced channel has room again; None: nothing waits.
    next_at: float | None = None


class Claimer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        pace: SharedPace,
        replica: Replica,
        batch: int,
        prepare: Prepare | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._pace = pace
        self._replica = replica
        self._batch = batch
        self._prepare = prepare

    async def claim(
        self,
        *,
        paced: bool = True,
        busy: Collection[str] = (),
        channels: int | None = None,
    ) -> Claim:
        """Claim what is due now. `paced=False` ignores the channels' buckets (tests on a
        clock that only moves when told to). `busy` channels have a call in flight and are
        left alone; at most `channels` more channels are claimed for, though a P0/P1 always
        gets one: urgent posts never wait for a free sender."""
        now = self._clock.now()
        async with self._sessions() as session:
            candidates = await self._due(session, now, busy)
            if not candidates:
                return Claim(next_at=await _next_due(session))
        keys = {bucket_of(c.op, c.channel) for c in candidates} if paced else set()
        buckets = {k for k in keys if k is not None}
        await self._pace.ensure(buckets, now.timestamp())
        async with self._sessions.begin() as session:
            pacer = await self._pace.lock(session, buckets)
            # Under the buckets' locks: what another replica claimed meanwhile is gone.
            pending = await _still_pending(session, [c.id for c in candidates])
            candidates = [c for c in candidates if c.id in pending]
            # Paced at the time the buckets are held, the closest to the calls going out.
            at = self._clock.now().timestamp()
            picked, next_at = _pace(pacer, candidates, at, paced, channels)
            await self._pace.save(session, pacer, buckets, at)
            if not picked:
                return Claim(next_at=next_at)
            rows, parents = await self._take(session, picked, now)
        return Claim(rows, parents, next_at)

    async def _due(
        self, session: AsyncSession, now: datetime, busy: Collection[str]
    ) -> Sequence[Any]:
        """The first `PER_CHANNEL` due rows of each channel not `busy`, most urgent first."""
        rank = (
            func.row_number()
            .over(
                partition_by=OutboxEntry.channel,
                order_by=(OutboxEntry.priority, OutboxEntry.id),
            )
            .label("rank")
        )
        due = (
            select(
                OutboxEntry.id,
                OutboxEntry.channel,
                OutboxEntry.op,
                OutboxEntry.priority,
                OutboxEntry.message_key,
                rank,
            )
            .where(
                OutboxEntry.state == "pending",
                OutboxEntry.not_before <= now,
                OutboxEntry.channel.not_in(sorted(busy)) if busy else true(),
            )
            .subquery()
        )
        return (
            await session.execute(
                select(due.c.id, due.c.channel, due.c.op, due.c.priority, due.c.message_key)
                .where(due.c.rank <= PER_CHANNEL)
                .order_by(due.c.priority, due.c.id)
                .limit(self._batch)
            )
        ).all()

    async def _take(
        self, session: AsyncSession, picked: list[int], now: datetime
    ) -> tuple[list[OutboxEntry], Parents]:
        """Claim the picked rows still pending (another replica may have been faster)."""
        claimed = set(
            (
                await session.scalars(
                    update(OutboxEntry)
                    .where(OutboxEntry.id.in_(picked), OutboxEntry.state == "pending")
                    .values(state="sending", claimed_by=self._replica.id, claimed_at=now)
                    .returning(OutboxEntry.id)
                )
            ).all()
        )
        if not claimed:
            return [], {}
        rows = (
            await session.scalars(
                select(OutboxEntry)
                .where(OutboxEntry.id.in_(claimed))
                .order_by(OutboxEntry.priority, OutboxEntry.id)
            )
        ).all()
        if self._prepare is not None:
            await self._prepare(session, rows)
            await session.flush()  # what is sent is what the row records
        parents = await load_parents(session, rows)
        session.expunge_all()
        return list(rows), parents


def _pace(
    pacer: Pacer, candidates: Sequence[Any], now: float, paced: bool, channels: int | None
) -> tuple[list[int], float | None]:
    """The candidates their channels have room for, and when the first channel that
    stopped has room again; at most `channels` channels but for P0/P1 rows."""
    picked: list[int] = []
    stopped: set[str] = set()
    taken: set[str] = set()
    next_at: float | None = None
    for row_id, channel, op, priority, key in candidates:
        if channel in stopped:
            continue
        full = channels is not None and len(taken) >= channels
        if channel not in taken and full and priority > URGENT_PRIORITY:
            stopped.add(channel)  # no free sender: the worker wakes when one is
            continue
        bucket = bucket_of(op, channel)
        if bucket is not None:
            urgent = is_urgent(priority, key)
            if paced and not pacer.can_take(bucket, now, urgent=urgent):
                stopped.add(channel)  # keep the channel's order: nothing jumps ahead
                ready = pacer.ready_at(bucket, now, urgent=urgent)
                next_at = ready if next_at is None else min(next_at, ready)
                continue
            pacer.take(bucket, now)
        picked.append(row_id)
        taken.add(channel)
    return picked, next_at


async def _still_pending(session: AsyncSession, ids: list[int]) -> set[int]:
    found = await session.scalars(
        select(OutboxEntry.id).where(OutboxEntry.id.in_(ids), OutboxEntry.state == "pending")
    )
    return set(found.all())


async def _next_due(session: AsyncSession) -> float | None:
    """When the earliest pending row becomes due."""
    later = await session.scalar(
        select(func.min(OutboxEntry.not_before)).where(OutboxEntry.state == "pending")
    )
    return later.timestamp() if later is not None else None

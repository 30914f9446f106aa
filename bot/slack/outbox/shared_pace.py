"""The buckets of pacing.py in `slack_channel_pace`, where every replica's claims meet:
one row per channel, and one for the workspace's message updates (`UPDATE_KEY`).

A claiming pass locks the rows of the channels it may post to (in channel order, so two
replicas never wait on each other in a circle), paces with them and writes them back in
the same transaction as its claim: a token spent by one replica is gone for the other.
A 429's Retry-After is written the same way, so no replica posts to that channel until
it ends. On SQLite one process holds the database and its single writer serialises the
passes; the same rows keep the pace across restarts.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.slack.outbox.pacing import Pacer, rate_of
from bot.storage.models import SlackChannelPace


class SharedPace:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._known: set[str] = set()  # channels whose row exists (rows are never deleted)

    async def lock(self, session: AsyncSession, channels: Iterable[str]) -> Pacer:
        """The channels' buckets, locked until `session`'s transaction ends. `ensure` them
        first: a channel without a row is paced from a full bucket and not locked."""
        wanted = sorted(set(channels))
        pacer = Pacer()
        if not wanted:
            return pacer
        rows = await session.execute(
            select(
                SlackChannelPace.channel,
                SlackChannelPace.tokens,
                SlackChannelPace.tokens_at,
                SlackChannelPace.blocked_until,
            )
            .where(SlackChannelPace.channel.in_(wanted))
            .order_by(SlackChannelPace.channel)
            .with_for_update()
        )
        for channel, tokens, at, blocked_until in rows:
            pacer.load(channel, tokens, at, blocked_until)
        return pacer

    async def save(
        self, session: AsyncSession, pacer: Pacer, channels: Iterable[str], now: float
    ) -> None:
        """Write the channels' buckets back (in the transaction that locked them)."""
        values = []
        for channel in sorted(set(channels)):
            tokens, at, blocked_until = pacer.state(channel, now)
            values.append(
                {
                    "channel": channel,
                    "tokens": tokens,
                    "tokens_at": at,
                    "blocked_until": blocked_until,
                }
            )
        if values:  # one UPDATE by primary key for all of them (executemany)
            await session.execute(update(SlackChannelPace), values)

    async def throttled(self, channel: str, now: float, retry_after: float) -> None:
        """Slack answered 429 for `channel`: nobody posts there until `Retry-After` ends."""
        await self.ensure([channel], now)
        async with self._sessions.begin() as session:
            pacer = await self.lock(session, [channel])
            pacer.throttled(channel, now, retry_after)
            await self.save(session, pacer, [channel], now)

    async def ensure(self, channels: Iterable[str], now: float) -> None:
        """Create missing rows with a full bucket, in a transaction of their own so that
        inserting never waits inside a claim's locks. Call it outside any session: on
        SQLite the engine has one connection."""
        missing = sorted({c for c in channels if c not in self._known})
        if not missing:
            return
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            await session.execute(
                insert(SlackChannelPace)
                .values(
                    [
                        {
                            "channel": c,
                            "tokens": rate_of(c)[1],
                            "tokens_at": now,
                            "blocked_until": 0.0,
                        }
                        for c in missing
                    ]
                )
                .on_conflict_do_nothing(index_elements=["channel"])
            )
        self._known.update(missing)

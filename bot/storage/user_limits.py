"""Per-user request limits counted in the database, so replicas and restarts share them.

A limit kept in each process's memory lets N replicas accept N times the limit, and a
restart forgets it: two replicas and one restart let 60 commands through a limit of 20.
Each person's count lives in one row of `user_request_windows`, taken and bumped by one
upsert, so two replicas counting at the same instant are serialised by the row.

The window is fixed (it starts with the first request after the previous one ended),
not sliding: one row per person, and a burst across a window's edge can reach twice
the limit at most, which is what the limit is for (a script, not a person typing).
Refused requests are counted but never move the window, so retrying does not extend
the wait.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.models import UserRequestWindow

KEY_LENGTH = 96


class SharedUserLimit:
    """At most `limit` requests per person in each `window`, counted under `kind`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        kind: str,
        limit: int,
        window: timedelta = timedelta(minutes=1),
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._sessions = sessions
        self.kind = kind
        self.limit = limit
        self.window = window

    async def check(self, user: str, now: datetime) -> timedelta | None:
        """Count one request of `user`: None when allowed, else how long until they may."""
        key = f"{self.kind}:{user}"[:KEY_LENGTH]
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            table = UserRequestWindow.__table__
            first = insert(UserRequestWindow).values(key=key, window_start=now, count=1)
            expired = table.c.window_start <= now - self.window
            bump = first.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "count": case((expired, 1), else_=table.c.count + 1),
                    "window_start": case((expired, now), else_=table.c.window_start),
                },
            ).returning(table.c.count, table.c.window_start)
            count, started = (await session.execute(bump)).one()
        if int(count) <= self.limit:
            return None
        wait: timedelta = started + self.window - now
        return max(wait, timedelta(seconds=1))

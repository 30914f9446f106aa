"""Refusing replayed Slack requests, across replicas and restarts.

Slack's signature covers a timestamp, and requests older than five minutes are refused;
within those five minutes a captured request could be sent again, to this replica, to
another one, or to this one after a restart. Slack never sends the same signature twice
(its retries are signed anew), so a signature seen before is a replay. Each accepted
signature is therefore written to the shared database until its window ends, and the
insert itself decides: of two replicas receiving the same copy, exactly one inserts.

Events API retries carry the same `event_id` under a new signature; an event id already
accepted is a duplicate delivery (answered 2xx so Slack stops retrying, and not run).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.models import SlackRequestReceipt

WINDOW = timedelta(minutes=5)
# Slack's window is checked against the request's own timestamp in both directions; a
# little slack for clocks that disagree by a second or two.
MARGIN = timedelta(seconds=30)


def window_end(request_timestamp: str | None, now: datetime) -> datetime:
    """When a request signed at `request_timestamp` can no longer pass the freshness check."""
    try:
        signed_at = datetime.fromtimestamp(int(request_timestamp or ""), UTC)
    except (ValueError, OverflowError, OSError):
        signed_at = now
    return max(signed_at, now) + WINDOW + MARGIN


class ReplayGuard:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def first_time(self, key: str, expires_at: datetime, now: datetime) -> bool:
        """Record `key` until `expires_at`; False when it is already recorded (a replay)."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(SlackRequestReceipt).where(SlackRequestReceipt.expires_at < now)
            )
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            result = await session.execute(
                insert(SlackRequestReceipt)
                .values(key=key[:160], expires_at=expires_at)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def forget(self, key: str) -> None:
        """Drop a receipt whose request failed, so Slack's retry of it is run."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(SlackRequestReceipt).where(SlackRequestReceipt.key == key[:160])
            )

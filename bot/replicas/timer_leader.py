"""Which process runs the timers: the holder of a PostgreSQL advisory lock.

The lock is session-level, on a dedicated connection kept open: when the holder dies,
PostgreSQL closes its connection and frees the lock, and a standby (retrying every few
seconds) takes over. On SQLite there is one process, and it is the holder.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# Shared by every replica: "the chatops escalation timer lock" (migrations use ...001).
TIMER_LOCK_ID = 7_431_002_002


class TimerLeader:
    def __init__(self, engine: AsyncEngine, lock_id: int = TIMER_LOCK_ID) -> None:
        self._engine = engine
        self._lock_id = lock_id
        self._conn: AsyncConnection | None = None
        self.is_leader = False

    @property
    def uses_lock(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    async def try_acquire(self) -> bool:
        """Hold the lock, or check that it is still held; True while this process leads."""
        if not self.uses_lock:
            self.is_leader = True
            return True
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                await self._conn.commit()
                return True
            except Exception:
                log.warning("lost the timer lock's connection; another replica may take over")
                await self._drop()
        conn = await self._engine.connect()
        try:
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": self._lock_id})
            await conn.commit()
        except Exception:
            await conn.close()
            raise
        if got:
            self._conn = conn
            self.is_leader = True
            log.info("this process now runs the escalation timers")
        else:
            await conn.close()
        return bool(got)

    async def release(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": self._lock_id}
                )
                await self._conn.commit()
            except Exception:
                log.warning("could not unlock the timer lock; closing its connection frees it")
        await self._drop()
        self.is_leader = False

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self.is_leader = False
        if conn is not None:
            try:
                await conn.invalidate()  # never hand a lock-holding connection back to the pool
            except Exception:
                log.debug("closing the timer lock connection failed", exc_info=True)

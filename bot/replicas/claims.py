"""Several replicas on one database: who this process is, who else is alive, and locks.

Each process gets a replica id. On PostgreSQL it holds a session-level advisory lock
named after that id on a dedicated connection for as long as it runs, so any replica
can tell whether the claimer of a row is still alive: PostgreSQL frees the lock the
moment the claimer's connection goes, including after `kill -9`. Rows claimed by a dead
replica are then recovered at once, without waiting for a lease to run out. On SQLite
there is one process per database file, so a claim by any other id is a dead one.

`xact_lock` serialises work on one key (an alert group, a channel's storm) across
replicas for the length of a transaction; it is a no-op on SQLite, whose single writer
already serialises transactions.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

log = logging.getLogger(__name__)

# Two-key advisory locks: (class, key). The escalation timer lock uses the one-key form.
REPLICA_LOCK_CLASS = 7431
XACT_LOCK_CLASS = 7432


class Replica:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.number = secrets.randbelow(2**31 - 2) + 1
        host = socket.gethostname()[:32]
        self.id = f"{host}:{os.getpid()}:{self.number}"
        self._conn: AsyncConnection | None = None

    @property
    def uses_lock(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    async def ensure(self) -> None:
        """Hold this replica's liveness lock (again, if its connection was lost)."""
        if not self.uses_lock:
            return
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                await self._conn.commit()
                return
            except Exception:
                log.warning("lost the replica lock's connection; taking it again")
                await self._drop()
        conn = await self._engine.connect()
        try:
            await conn.execute(
                text("SELECT pg_advisory_lock(:c, :k)"),
                {"c": REPLICA_LOCK_CLASS, "k": self.number},
            )
            await conn.commit()
        except Exception:
            await conn.close()
            raise
        self._conn = conn

    async def alive(self, session: AsyncSession, owners: set[str]) -> set[str]:
        """Which of these replica ids belong to a running process."""
        if not self.uses_lock:
            return owners & {self.id}
        numbers = {owner: _number(owner) for owner in owners}
        rows = await session.execute(
            text(
                "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = :c AND objsubid = 2 AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"c": REPLICA_LOCK_CLASS},
        )
        held = {int(row[0]) for row in rows}
        return {owner for owner, number in numbers.items() if number in held}

    async def close(self) -> None:
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.invalidate()  # closing the connection frees the lock
            except Exception:
                log.debug("closing the replica lock connection failed", exc_info=True)


def _number(owner: str) -> int:
    try:
        return int(owner.rsplit(":", 1)[-1])
    except ValueError:
        return -1


async def xact_lock(session: AsyncSession, key: str) -> None:
    """Hold a lock on `key` until the session's transaction ends (PostgreSQL only)."""
    bind = session.bind
    if bind is None or bind.dialect.name != "postgresql":
        return
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:c, hashtext(:k))"),
        {"c": XACT_LOCK_CLASS, "k": key},
    )

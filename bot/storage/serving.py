"""Whether a bot is serving on a database, so that `chatops restore` never replaces the data
under a running one (which would keep writing into the old file, or its pool, and send
from state the restore was meant to undo).

SQLite: every serving process holds a shared `flock` on a file beside the database for as
long as it runs; the kernel drops it when the process ends, `kill -9` included, so a stale
mark is impossible. Restore asks for the exclusive lock without waiting: refused means a
bot is serving. PostgreSQL: every replica holds its liveness advisory lock
(bot/replicas/claims.py) on a connection of its own; a granted one in the database is a
replica serving.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.replicas.claims import REPLICA_LOCK_CLASS


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return Path(database)


def _lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".serving")


class ServingMark:
    """Held by `chatops serve` while it runs (a no-op off SQLite)."""

    def __init__(self, url: str) -> None:
        self._database = sqlite_file(url)
        self._fd: int | None = None

    def hold(self) -> None:
        if self._database is None or self._fd is not None:
            return
        path = _lock_path(self._database)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # Shared: replicas never run on one SQLite file, but two tests or a restart that
            # overlaps the old process's exit must not fail to start because of this mark.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RuntimeError(
                f"{self._database} is being restored (chatops restore); start after it ends"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


class SqliteRestoreLock:
    """The exclusive side of the mark: held by `chatops restore` while it swaps the file,
    so a `serve` started meanwhile refuses instead of opening a half-copied database."""

    def __init__(self, database: Path) -> None:
        self._path = _lock_path(database)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True when no bot is serving on the database (and none can start until release)."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


async def postgres_replicas_serving(engine: AsyncEngine) -> int:
    """How many replicas hold their liveness lock in this PostgreSQL database."""
    async with engine.connect() as conn:
        count = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = :c AND objsubid = 2 AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"c": REPLICA_LOCK_CLASS},
        )
    return int(count or 0)

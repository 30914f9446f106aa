"""Creating the async engine for SQLite (embedded default) or PostgreSQL (production)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession  # re-exported for callers
from sqlalchemy.orm import Session


def normalise_url(url: str) -> str:
    """Accept the spellings people paste (postgres://, sqlite:///); add the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    url = normalise_url(url)
    if is_sqlite(url):
        # One connection: SQLite has a single writer anyway, and queueing for the connection
        # in asyncio is far cheaper than SQLite's busy-wait when two connections collide
        # (which starved webhook intake while the processor held a write transaction).
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0, pool_timeout=60
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers (health checks, the outbox) run while intake writes;
            # busy_timeout makes writers queue instead of failing with "database is locked".
            cursor = dbapi_connection.cursor()
            # Takes effect in a new, empty file only: freed pages can then be given back to
            # the disk after retention prunes (bot/retention/pruning.py).
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def session_factory(
    engine: AsyncEngine,
    session_class: type[Session] = Session,
    *,
    info: dict[str, Any] | None = None,
) -> async_sessionmaker[AsyncSession]:
    """`session_class` lets one service observe its own sessions' events (bot/report/live.py)
    without seeing those of another service in the same process; `info` starts every
    session's `info` (what one feature hands another, e.g. bot/alerts/groups.py's notes)."""
    return async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=session_class, info=info
    )

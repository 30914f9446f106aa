"""Applying Alembic migrations from the bot itself, safely with several replicas.

On PostgreSQL the migration runs while holding a session-level advisory lock, so two
replicas starting together migrate one after the other (the second finds nothing to do).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

# An arbitrary constant shared by every replica: "the chatops schema migration lock".
MIGRATION_LOCK_ID = 7_431_002_001


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _with_lock(engine, lambda conn, cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _with_lock(engine, lambda conn, cfg: command.downgrade(cfg, revision))


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def is_at_head(engine: AsyncEngine) -> bool:
    return await current(engine) == head_revision()


async def is_ready(engine: AsyncEngine) -> bool:
    """At our head, or at a revision this code does not know: a newer release has
    migrated already (rolling update), and migrations are written so that the release
    before them still runs; being unready then would leave the Service with no pods."""
    revision = await current(engine)
    if revision is None:
        return False
    if revision == head_revision():
        return True
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        return True  # not ours: newer
    return False  # an older revision of ours: migrations are pending


@contextlib.asynccontextmanager
async def _sqlite_file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """SQLite has no advisory locks; a lock file beside the database does the same job
    for several processes on one machine (the only place one SQLite file can be shared)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    handle = await asyncio.to_thread(open, f"{database}.migrate-lock", "a+")
    try:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


Run = Callable[[Connection, AlembicConfig], None]


async def _with_lock(engine: AsyncEngine, run: Run) -> None:
    async with _sqlite_file_lock(engine), engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            await conn.commit()
        try:

            def _apply(sync_conn: Connection) -> None:
                config = alembic_config()
                config.attributes["connection"] = sync_conn
                run(sync_conn, config)

            await conn.run_sync(_apply)
            await conn.commit()
        finally:
            if postgres:
                await conn.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                await conn.commit()

"""Migrations upgrade, downgrade to base and upgrade again, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect

from bot.storage import migrate
from bot.storage.engine import create_engine

TABLES = {
    "alert_groups",
    "alerts",
    "webhook_deliveries",
    "slack_messages",
    "slack_outbox",
    "audit_log",
}


async def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        assert await migrate.is_at_head(engine)
        assert TABLES <= await tables(database_url)

        await migrate.downgrade(engine, "base")
        assert await migrate.current(engine) is None
        assert not (TABLES & await tables(database_url))

        await migrate.upgrade(engine)
        assert await migrate.current(engine) == migrate.head_revision()
        assert TABLES <= await tables(database_url)
    finally:
        await engine.dispose()


async def test_two_replicas_migrating_together_both_succeed(database_url: str) -> None:
    engines = [create_engine(database_url), create_engine(database_url)]
    try:
        await asyncio.gather(*(migrate.upgrade(e) for e in engines))
        assert await migrate.is_at_head(engines[0])
    finally:
        for engine in engines:
            await engine.dispose()


async def test_readiness_accepts_a_newer_schema_but_not_a_pending_one(database_url: str) -> None:
    from sqlalchemy import text

    engine = create_engine(database_url)
    try:
        assert not await migrate.is_ready(engine)  # nothing applied yet
        await migrate.upgrade(engine)
        assert await migrate.is_ready(engine)
        await migrate.downgrade(engine, "0001")
        assert not await migrate.is_ready(engine)  # this release's migrations are pending
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
        assert await migrate.is_ready(engine)  # a newer release migrated during a rollout
    finally:
        await engine.dispose()

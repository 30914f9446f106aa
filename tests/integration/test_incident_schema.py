"""The incident tables as migration 0017 makes them are the tables the models describe,
on SQLite and PostgreSQL (the unique group link included: it decides declaration races)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import bot.incidents.models  # noqa: F401 (registers the tables)
from bot.storage import migrate
from bot.storage.engine import create_engine
from bot.storage.models import Base


async def test_migration_0017_matches_the_incident_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
            unique = await conn.run_sync(
                lambda sync: inspect(sync).get_unique_constraints("incident_groups")
            )
    finally:
        await engine.dispose()
    assert [d for d in diff if "incident" in str(d)] == []
    assert [u["column_names"] for u in unique] == [["group_id"]]

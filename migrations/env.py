"""Alembic environment: runs on a connection handed over by bot.storage.migrate, or on its own.

bot.storage.migrate opens the connection (and holds PostgreSQL's advisory lock on it) and passes
it in `config.attributes["connection"]`; the plain `alembic` CLI path builds an engine from
DATABASE_URL for people who prefer Alembic's own commands.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

import bot.approvals.models  # approval requests, seen Slack events
import bot.escalation.models  # registers escalation steps
import bot.heartbeats.models  # heartbeats
import bot.incidents.models  # incidents and their alert groups
import bot.oncall.models  # last known on-calls
import bot.operations.models  # operations, locks, dryrun state
import bot.pagerduty.models  # registers PagerDuty pages and incidents
import bot.runbooks.models  # noqa: F401  (runbook progress tables)
from bot.storage.engine import create_engine
from bot.storage.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get(
        "DATABASE_URL", "sqlite+aiosqlite:///chatops.db"
    )
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_standalone())

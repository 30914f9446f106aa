"""Draining a backlog costs a bounded number of SQL statements per batch, not per delivery.

The processor applies deliveries ten to a transaction. Reading each delivery's group,
marking each delivery done, and, in a storm, looking up the channel's storm and marking
its summary stale once per folded group made every delivery pay for round trips that the
batch can share; on SQLite each one is several hops to aiosqlite's thread. Statements are
counted with SQLAlchemy's `before_cursor_execute` event (an executemany counts once), so
these tests do not depend on timing. Runs on SQLite and on the real PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.config import Config
from bot.storage.models import WebhookDelivery
from tests.conftest import RunningService, StartService
from tests.storm.conftest import group_notification

BATCH = 10  # what process_pending takes per transaction


@contextmanager
def statements(bot: RunningService) -> Iterator[list[tuple[str, str]]]:
    """Every statement sent while the block runs, as (SQL, its parameters as text)."""
    seen: list[tuple[str, str]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append((" ".join(sql.split()), repr(params)))

    engine = bot.service.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def count(seen: list[tuple[str, str]], prefix: str, table: str = "") -> int:
    return sum(1 for sql, _ in seen if sql.startswith(prefix) and table in sql)


async def deliver_and_process(
    bot: RunningService, first: int, groups: int
) -> list[tuple[str, str]]:
    """`groups` new groups through the webhook, then processed with statements counted."""
    for index in range(first, first + groups):
        await bot.deliver(group_notification(index, alerts=2))
    with statements(bot) as seen:
        assert await bot.service.processor.process_pending(batch=BATCH) == groups
    return seen


async def test_a_batch_reads_its_groups_once_and_marks_its_deliveries_together(
    start_service: StartService, database_url: str
) -> None:
    bot = await start_service(database_url)
    seen = await deliver_and_process(bot, 0, BATCH)

    assert count(seen, "SELECT", "FROM alert_groups WHERE alert_groups.group_key") == 1
    assert count(seen, "UPDATE webhook_deliveries") == 1
    # A group that did not exist has no alerts to read before its own are stored; what
    # is left is the message's view (one query with its counts) and the runbook linker.
    assert count(seen, "SELECT", "FROM alerts") <= 2 * BATCH


def storm_bookkeeping(seen: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Statements about storms: their rows, their summary's outbox calls (`storm:N`) and,
    on PostgreSQL, the channel's storm lock (`storm:CHANNEL`)."""
    return [(sql, params) for sql, params in seen if "alert_storms" in sql or "storm:" in params]


@pytest.fixture
async def stormy(
    start_service: StartService, database_url: str, example_config: Config
) -> RunningService:
    """A channel whose queue is longer than the threshold (1 s): nothing is sent (the test
    clock stands still), so the third group opens a storm and every later one folds."""
    alerts = example_config.alerts.model_copy(update={"storm_threshold": 1})
    running = await start_service(
        database_url, config=example_config.model_copy(update={"alerts": alerts})
    )
    await deliver_and_process(running, 0, 3)
    return running


async def test_storm_bookkeeping_is_paid_once_per_batch_not_per_folded_group(
    stormy: RunningService,
) -> None:
    two = storm_bookkeeping(await deliver_and_process(stormy, 10, 2))
    ten = storm_bookkeeping(await deliver_and_process(stormy, 20, BATCH))

    assert two, "the folds did not touch the storm at all"
    assert len(ten) == len(two), ten
    folded = stormy.service.metrics.registry.get_sample_value("chatops_storm_folded_groups_total")
    assert folded is not None and folded >= 2 + BATCH


async def test_intake_stores_a_batch_of_bodies_in_one_statement_each_caller_its_own_row(
    start_service: StartService, database_url: str
) -> None:
    """Bodies that arrive together are committed together (group commit); on SQLite the
    ORM sent one INSERT per body, each a round trip through aiosqlite's thread."""
    bot = await start_service(database_url)
    bodies = [group_notification(index, alerts=1) for index in range(16)]
    with statements(bot) as seen:
        ids = await asyncio.gather(
            *(bot.service.intake.store("alertmanager", body) for body in bodies)
        )

    assert count(seen, "INSERT INTO webhook_deliveries") == 1
    async with bot.service.sessions() as session:
        stored = {d.id: d.body for d in await session.scalars(select(WebhookDelivery))}
    assert [stored[i] for i in ids] == bodies

"""Removing what is past its retention, in batches short enough that nobody waits.

Run by the timer holder only (one replica), as one of the escalation wheel's timer jobs.
Every batch is its own transaction of at most `retention.batch` rows: on SQLite the one
connection is shared with intake and the outbox, so a batch holds them for milliseconds,
never for the whole prune. A row something still needs is never removed: an unsent outbox
call (recovery and restores need it), a pending webhook, a group that an open page,
PagerDuty incident, pending escalation step, running runbook step or declared incident
refers to, the newest operation of each service and environment (the baseline a rollback
starts from), and a request an operation kept is pruned with it, not before.

Tables of other features are named, not imported (`table()`): pruning stays one shared
mechanism that no feature has to know about, and the feature-independence contract holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    TableClause,
    and_,
    delete,
    exists,
    func,
    not_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from bot.audit.checkpoint import prune_batch
from bot.clock import Clock
from bot.retention.config import RetentionConfig
from bot.retention.references import (
    GROUP_REFERRERS,
    approval_requests,
    operations,
    pagerduty_incidents,
)
from bot.storage.models import (
    AlertGroup,
    AlertStorm,
    OutboxEntry,
    OutboxFile,
    SlackMessage,
    WebhookDelivery,
)

log = logging.getLogger(__name__)

MAX_BATCHES = 200  # per table and pass: a huge backlog is worked off over several passes
PRUNED_TABLES = (
    "webhook_deliveries",
    "slack_outbox",
    "outbox_files",
    "alert_groups",
    "operations",
    "approval_requests",
    "pagerduty_incidents",
    "alert_storms",
    "audit_log",
)
FINISHED_REQUEST = ("Rejected", "Expired", "Succeeded", "Failed", "Rolled back")


@dataclass
class Pruned:
    """Rows removed by one pass, by table."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, count: int) -> None:
        if count:
            self.rows[table] = self.rows.get(table, 0) + count

    @property
    def total(self) -> int:
        return sum(self.rows.values())


class Pruner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        config: RetentionConfig,
        *,
        on_pruned: Callable[[Pruned], None] | None = None,
        audit_key: str | None = None,
    ) -> None:
        """`audit_key` signs the audit checkpoint; without it the audit log is never pruned."""
        self._sessions = sessions
        self._clock = clock
        self._config = config
        self._on_pruned = on_pruned
        self._audit_key = audit_key
        self._last_run: datetime | None = None

    async def run_due(self) -> Pruned | None:
        """The timer job: prune when `retention.every` has passed since the last pass."""
        now = self._clock.now()
        if self._last_run is not None and now - self._last_run < self._config.every:
            return None
        self._last_run = now
        return await self.prune()

    async def prune(self) -> Pruned:
        now = self._clock.now()
        cfg = self._config
        pruned = Pruned()
        # One loop per state, each walking the (state, id) index: an OR of the two would
        # scan the whole table for every batch.
        await self._batches(
            pruned,
            WebhookDelivery.__table__,
            WebhookDelivery.id,
            (WebhookDelivery.state == "done")
            & (
                func.coalesce(WebhookDelivery.processed_at, WebhookDelivery.received_at)
                < now - cfg.webhook_bodies
            ),
        )
        await self._batches(
            pruned,
            WebhookDelivery.__table__,
            WebhookDelivery.id,
            (WebhookDelivery.state == "failed")
            & (WebhookDelivery.received_at < now - cfg.failed_webhooks),
        )
        await self._batches(
            pruned,
            OutboxEntry.__table__,
            OutboxEntry.id,
            OutboxEntry.state.in_(("sent", "failed", "folded"))
            & (OutboxEntry.created_at < now - cfg.outbox),
        )
        await self._prune_files(pruned, now)
        await self._prune_groups(pruned, now)
        await self._prune_operations(pruned, now)
        await self._batches(
            pruned,
            pagerduty_incidents,
            pagerduty_incidents.c.id,
            (pagerduty_incidents.c.status == "resolved")
            & (pagerduty_incidents.c.updated_at < now - cfg.pagerduty_incidents),
        )
        await self._batches(
            pruned,
            AlertStorm.__table__,
            AlertStorm.id,
            (AlertStorm.state == "closed") & (AlertStorm.closed_at < now - cfg.alert_groups),
        )
        await self._prune_audit(pruned, now)
        if pruned.total:
            log.info("retention: removed %s", ", ".join(f"{n} {t}" for t, n in pruned.rows.items()))
            await self._give_space_back()
        if self._on_pruned is not None:
            self._on_pruned(pruned)
        return pruned

    async def _batches(
        self,
        pruned: Pruned,
        table: TableClause | FromClause,
        key: ColumnElement[Any] | InstrumentedAttribute[Any],
        where: ColumnElement[bool],
    ) -> int:
        removed = 0
        for _ in range(MAX_BATCHES):
            began = time.perf_counter()
            async with self._sessions.begin() as session:
                ids = (
                    await session.scalars(
                        select(key).where(where).order_by(key).limit(self._config.batch)
                    )
                ).all()
                if ids:
                    await session.execute(delete(table).where(key.in_(ids)))  # type: ignore[arg-type]
            removed += len(ids)
            if len(ids) < self._config.batch:
                break
            await _yield_the_database(time.perf_counter() - began)
        pruned.add(str(getattr(table, "name", "")), removed)
        return removed

    async def _prune_audit(self, pruned: Pruned, now: datetime) -> None:
        keep = self._config.audit
        if not isinstance(keep, timedelta) or not self._audit_key:
            return
        for _ in range(MAX_BATCHES):
            began = time.perf_counter()
            removed = await prune_batch(
                self._sessions,
                before=now - keep,
                batch=self._config.batch,
                key=self._audit_key,
                now=now,
            )
            pruned.add("audit_log", removed)
            if removed < self._config.batch:
                return
            await _yield_the_database(time.perf_counter() - began)

    async def _prune_files(self, pruned: Pruned, now: datetime) -> None:
        """Chart bytes past the outbox's retention, unless an unsent upload still needs them."""
        async with self._sessions() as session:
            payloads = (
                await session.scalars(
                    select(OutboxEntry.payload).where(
                        OutboxEntry.op == "upload",
                        OutboxEntry.state.in_(("pending", "sending")),
                    )
                )
            ).all()
        needed = {p.get("file") for p in payloads if isinstance(p, dict)} - {None}
        where = OutboxFile.created_at < now - self._config.outbox
        if needed:
            where = where & OutboxFile.id.not_in(needed)
        await self._batches(pruned, OutboxFile.__table__, OutboxFile.id, where)

    async def _prune_groups(self, pruned: Pruned, now: datetime) -> None:
        """Resolved groups nothing open refers to; their alerts, steps, pages and
        checklists go with them (ON DELETE CASCADE), their message rows by key."""
        free = and_(*(not_(exists().where(ref)) for ref in GROUP_REFERRERS))
        where = (
            (AlertGroup.status == "resolved")
            & (AlertGroup.resolved_at < now - self._config.alert_groups)
            & free
        )
        for _ in range(MAX_BATCHES):
            began = time.perf_counter()
            async with self._sessions.begin() as session:
                ids = (
                    await session.scalars(
                        select(AlertGroup.id)
                        .where(where)
                        .order_by(AlertGroup.id)
                        .limit(self._config.batch)
                    )
                ).all()
                if ids:
                    keys = [f"alert-group:{i}" for i in ids]
                    await session.execute(delete(SlackMessage).where(SlackMessage.key.in_(keys)))
                    await session.execute(delete(AlertGroup).where(AlertGroup.id.in_(ids)))
            pruned.add("alert_groups", len(ids))
            if len(ids) < self._config.batch:
                break
            await _yield_the_database(time.perf_counter() - began)

    async def _prune_operations(self, pruned: Pruned, now: datetime) -> None:
        cutoff = now - self._config.operations
        op = operations.c
        newer = operations.alias("newer")
        # The newest operation of each target is the baseline a rollback plans from.
        not_latest = exists().where(
            newer.c.service == op.service,
            newer.c.environment == op.environment,
            newer.c.id > op.id,
        )
        await self._batches(
            pruned,
            operations,
            op.id,
            op.finished_at.is_not(None)
            & (op.finished_at < cutoff)
            & op.status.not_in(("running", "baking"))
            & not_latest,
        )
        req = approval_requests.c
        kept_by_operation = exists().where(op.request_id == req.id)
        await self._batches(
            pruned,
            approval_requests,
            req.id,
            req.status.in_(FINISHED_REQUEST) & (req.updated_at < cutoff) & not_(kept_by_operation),
        )

    async def _give_space_back(self) -> None:
        """SQLite keeps freed pages in the file (and reuses them, so it stops growing);
        with auto_vacuum=INCREMENTAL, a few hundred of them go back to the disk per pass."""
        async with self._sessions() as session:
            bind = session.bind
            if bind is None or bind.dialect.name != "sqlite":
                return
            mode = await session.scalar(text("PRAGMA auto_vacuum"))
            if mode == 2:  # incremental
                await session.execute(text("PRAGMA incremental_vacuum(2000)"))
                await session.commit()


async def _yield_the_database(took: float) -> None:
    """Pause as long as the batch took (at least 5 ms): a `sleep(0)` hands the loop over
    but not the connection, which the next batch would take again before a waiting
    webhook's checkout is woken; half the database's time stays with everyone else."""
    await asyncio.sleep(max(0.005, took))

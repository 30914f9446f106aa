"""Stored webhook deliveries turned into group state, in arrival order.

`DeliveryProcessor` works through the deliveries bot/alerts/intake.py stored, a batch of
them per transaction (bot/alerts/notification.py applies each one), so a delivery's group
state, alerts, outbox entries and audit events commit together. Deliveries left pending
by a crash are picked up again at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from alerts.alertmanager import (
    AlertmanagerNotification,
    PayloadError,
    group_key_digest,
    parse_notification,
)
from alerts.config import AlertsConfig
from bot.alerts import deliveries, storm
from bot.alerts.events import GroupListener
from bot.alerts.notification import KnownGroups, locked_groups, process_notification
from bot.clock import Clock
from bot.replicas.claims import xact_lock
from bot.replicas.timer_leader import TimerLeader
from bot.storage.models import WebhookDelivery

log = logging.getLogger(__name__)

# How long processing steps aside after each delivery while webhooks are arriving.
INTAKE_PAUSE = 0.005
# With several replicas, one processes deliveries (any replica accepts them): the holder
# of this PostgreSQL advisory lock. A standby retries every LEADER_RETRY seconds.
PROCESSOR_LOCK_ID = 7_431_002_003
LEADER_RETRY = 0.5

# Groups larger than this are parsed in a worker thread, so that a 5,000-alert
# notification does not hold the event loop (webhooks, Slack) for a second.
PARSE_IN_THREAD = 500


async def _parse(delivery: WebhookDelivery) -> AlertmanagerNotification:
    alerts = delivery.body.get("alerts")
    if isinstance(alerts, list) and len(alerts) > PARSE_IN_THREAD:
        return await asyncio.to_thread(
            parse_notification, delivery.body, received_at=delivery.received_at
        )
    return parse_notification(delivery.body, received_at=delivery.received_at)


async def _parse_or_error(delivery: WebhookDelivery) -> AlertmanagerNotification | PayloadError:
    try:
        return await _parse(delivery)
    except PayloadError as exc:
        return exc


def _mark_done(delivery: WebhookDelivery, outcome: str, now: datetime) -> None:
    delivery.state = "done"
    delivery.outcome = outcome
    delivery.error = None
    delivery.next_attempt_at = None
    delivery.processed_at = now


def _lock_key(delivery: WebhookDelivery) -> str:
    """One lock per group: the stored digest (older rows: the body's groupKey)."""
    return delivery.group_key or group_key_digest(str(delivery.body.get("groupKey", "")))


class DeliveryProcessor:
    """Works through pending deliveries in arrival order; one instance per process.

    A P0 delivery goes first (unless an older delivery of its group is still pending, so
    that one group's notifications are never applied out of order). With several
    replicas, the `run` loop processes only in the replica holding the processor lock;
    deliveries are also claimed with `FOR UPDATE SKIP LOCKED` and their groups locked in
    a fixed order, so even two processors at once apply each delivery once.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: AlertsConfig,
        clock: Clock,
        *,
        on_processed: Callable[[str, str], None] | None = None,
        on_outbox: Callable[[], None] | None = None,
        intake_busy: Callable[[], bool] | None = None,
        listeners: Sequence[GroupListener] = (),
        engine: AsyncEngine | None = None,
        on_storms: Callable[[int], None] | None = None,
        on_failure: Callable[[deliveries.Failure], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._on_failure = on_failure
        self._config = config
        self._leader = TimerLeader(engine or sessions.kw["bind"], lock_id=PROCESSOR_LOCK_ID)
        self._on_storms = on_storms
        self._clock = clock
        self._wake = asyncio.Event()
        self._on_processed = on_processed
        self._on_outbox = on_outbox
        self._intake_busy = intake_busy or (lambda: False)
        self._listeners = listeners

    def wake(self) -> None:
        self._wake.set()

    async def run(self, poll_interval: float = 1.0) -> None:
        try:
            while True:
                self._wake.clear()
                leading = False
                try:
                    leading = await self._leader.try_acquire()
                    if leading:
                        await self.process_pending()
                        await self.close_storms()
                    elif self._on_storms is not None:
                        self._on_storms(0)  # only the holder counts: no stale count after a move
                except Exception:
                    log.exception("processing webhook deliveries failed; retrying shortly")
                timeout = poll_interval if leading else LEADER_RETRY
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=timeout)
                except TimeoutError:
                    pass
        finally:
            await self._leader.release()

    async def close_storms(self) -> list[int]:
        """End the storms that have passed (bot/alerts/storm.py); wakes the outbox when any did."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            closed = await storm.close_calm_storms(session, self._config, now)
            still_open = await storm.open_count(session)
        if self._on_storms is not None:
            self._on_storms(still_open)
        if closed and self._on_outbox is not None:
            self._on_outbox()
        return closed

    async def process_pending(self, batch: int = 10) -> int:
        """Process every pending delivery; returns how many were processed."""
        done = 0
        while True:
            urgent = await self._urgent(batch)
            if urgent:
                await self._process_batch(urgent)
                done += len(urgent)
                continue
            now = self._clock.now()
            async with self._sessions() as session:
                held = await deliveries.held_groups(session, now)
                ids = (
                    await session.scalars(
                        select(WebhookDelivery.id)
                        .where(
                            WebhookDelivery.state == "pending",
                            deliveries.due(now),
                            deliveries.not_held(held),
                        )
                        .order_by(WebhookDelivery.id)
                        .limit(batch)
                    )
                ).all()
            if not ids:
                return done
            if self._intake_busy():
                # Answering Alertmanager comes first (it waits, and retries if we are slow);
                # stored deliveries wait safely. Keep going one at a time, with pauses.
                await self._process_batch([ids[0]])
                done += 1
                await asyncio.sleep(INTAKE_PAUSE)
                continue
            await self._process_batch(list(ids))
            done += len(ids)

    async def _urgent(self, limit: int) -> list[int]:
        """Pending P0 deliveries with no older pending delivery of the same group."""
        older = aliased(WebhookDelivery)
        now = self._clock.now()
        async with self._sessions() as session:
            return list(
                (
                    await session.scalars(
                        select(WebhookDelivery.id)
                        .where(
                            WebhookDelivery.state == "pending",
                            WebhookDelivery.priority == 0,
                            deliveries.due(now),
                            ~exists().where(
                                older.state == "pending",
                                older.group_key == WebhookDelivery.group_key,
                                older.id < WebhookDelivery.id,
                            ),
                        )
                        .order_by(WebhookDelivery.id)
                        .limit(limit)
                    )
                ).all()
            )

    async def _process_batch(self, ids: list[int]) -> None:
        """Several deliveries in one transaction: under a storm, one commit per delivery
        would make the database the bottleneck. A delivery that fails for a reason other
        than the database sends the batch back to one-at-a-time, to isolate it."""
        now = self._clock.now()
        results: list[tuple[str, str, str]] = []
        try:
            async with self._sessions.begin() as session:
                rows = (
                    await session.scalars(
                        select(WebhookDelivery)
                        .where(
                            WebhookDelivery.id.in_(ids),
                            WebhookDelivery.state == "pending",
                            deliveries.due(now),
                        )
                        .order_by(WebhookDelivery.id)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                # Groups in a fixed order, so two processors never wait on each other in a
                # circle; the lock also covers creating a group that does not exist yet.
                for key in sorted({_lock_key(d) for d in rows}):
                    await xact_lock(session, f"group:{key}")
                parsed = [await _parse_or_error(delivery) for delivery in rows]
                known = await locked_groups(
                    session,
                    {n.key_digest for n in parsed if not isinstance(n, PayloadError) and n.alerts},
                )
                applied = []
                for delivery, notification in zip(rows, parsed, strict=True):
                    outcome = await self._apply(session, delivery, notification, now, known)
                    if outcome != "invalid":
                        applied.append((delivery, outcome))
                    status = str(delivery.body.get("status", ""))
                    results.append((status, outcome, delivery.source))
                # Marked together at the end: one statement for the batch, not one per delivery.
                for delivery, outcome in applied:
                    _mark_done(delivery, outcome, now)
        except SQLAlchemyError:
            raise  # the database is unwell: leave the deliveries pending and retry
        except Exception:
            for delivery_id in ids:
                await self._process_one(delivery_id)
            return
        self._report(results)

    async def _apply(
        self,
        session: AsyncSession,
        delivery: WebhookDelivery,
        notification: AlertmanagerNotification | PayloadError,
        now: datetime,
        known: KnownGroups | None = None,
    ) -> str:
        """Apply one parsed delivery; the caller marks it done unless it was invalid."""
        if isinstance(notification, PayloadError):  # validated at intake; only an old row
            await deliveries.record_failure(
                session, delivery, str(notification), self._config, now, retry=False
            )
            return "invalid"
        return await process_notification(
            session, notification, self._config, now, self._listeners, known=known
        )

    async def _process_one(self, delivery_id: int) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.state != "pending":
                return
            await xact_lock(session, f"group:{_lock_key(delivery)}")
            try:
                outcome = await self._apply(session, delivery, await _parse_or_error(delivery), now)
                if outcome != "invalid":
                    _mark_done(delivery, outcome, now)
            except SQLAlchemyError:
                raise
            except Exception as exc:
                # A bug must not block every delivery behind this one: try it again
                # later, then keep it as failed and say so (bot/alerts/deliveries.py).
                log.exception("delivery %s could not be processed", delivery_id)
                await session.rollback()
                await self._record_failure(delivery_id, f"{type(exc).__name__}: {exc}", now)
                return
            status = str(delivery.body.get("status", ""))
            source = delivery.source
        self._report([(status, outcome, source)])

    def _report(self, results: list[tuple[str, str, str]]) -> None:
        wake = False
        for status, outcome, source in results:
            if self._on_processed is not None:
                self._on_processed(status, outcome)
            if outcome == "invalid" and self._on_failure is not None:
                self._on_failure(deliveries.Failure(source, status, final=True))
            wake = wake or outcome not in ("duplicate", "empty")
        if wake and self._on_outbox is not None:
            self._on_outbox()

    async def _record_failure(self, delivery_id: int, error: str, now: datetime) -> None:
        async with self._sessions.begin() as session:
            delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.state != "pending":
                return
            failure = await deliveries.record_failure(session, delivery, error, self._config, now)
        if failure.final and self._on_processed is not None:
            self._on_processed(failure.status, "error")
        if self._on_failure is not None:
            self._on_failure(failure)
        if failure.final and self._on_outbox is not None:
            self._on_outbox()  # the announcement is queued

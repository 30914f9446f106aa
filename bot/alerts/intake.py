"""Alertmanager intake: store every delivery first, then turn it into group state.

The webhook handler only validates and stores (so a 2xx means "it is in the database");
`DeliveryProcessor` then works through stored deliveries in arrival order, in one
transaction each: group state, alerts, outbox entries and audit events commit together.
Deliveries left pending by a crash are picked up again at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from alerts import messages as m
from alerts.alertmanager import (
    AlertmanagerNotification,
    PayloadError,
    group_key_digest,
    parse_notification,
)
from alerts.config import AlertsConfig
from alerts.durations import format_duration
from alerts.policy import place, priority_of
from bot.alerts import deliveries, storm
from bot.alerts.events import GroupListener, notify
from bot.alerts.groups import priority_rank, refresh_message, reply
from bot.audit import trail
from bot.clock import Clock
from bot.replicas.claims import xact_lock
from bot.replicas.timer_leader import TimerLeader
from bot.storage.models import Alert, AlertGroup, WebhookDelivery

log = logging.getLogger(__name__)

# How long processing steps aside after each delivery while webhooks are arriving.
INTAKE_PAUSE = 0.005
# With several replicas, one processes deliveries (any replica accepts them): the holder
# of this PostgreSQL advisory lock. A standby retries every LEADER_RETRY seconds.
PROCESSOR_LOCK_ID = 7_431_002_003
LEADER_RETRY = 0.5


def delivery_priority(body: dict[str, Any], config: AlertsConfig | None) -> int | None:
    """The most urgent priority among a notification's firing alerts (0 for P0)."""
    if config is None:
        return None
    alerts = [a for a in body.get("alerts") or [] if isinstance(a, dict)]
    firing = [a for a in alerts if a.get("status") == "firing"] or alerts
    ranks = [
        priority_rank(priority_of(_text_labels(a["labels"]), config))
        for a in firing
        if isinstance(a.get("labels"), dict)
    ]
    return min(ranks) if ranks else None


def _text_labels(labels: dict[str, Any]) -> dict[str, str]:
    # The reader takes numbers as label values (`severity: 2`); so must this.
    return {str(k): str(v) for k, v in labels.items() if isinstance(v, str | int | float)}


# Groups larger than this are parsed in a worker thread and written in parts, so that a
# 5,000-alert notification does not hold the event loop (webhooks, Slack) for a second.
FLUSH_EVERY = 500
PARSE_IN_THREAD = 500


async def _parse(delivery: WebhookDelivery) -> AlertmanagerNotification:
    alerts = delivery.body.get("alerts")
    if isinstance(alerts, list) and len(alerts) > PARSE_IN_THREAD:
        return await asyncio.to_thread(
            parse_notification, delivery.body, received_at=delivery.received_at
        )
    return parse_notification(delivery.body, received_at=delivery.received_at)


# (source, body, group key digest, the caller's future)
_Stored = tuple[str, dict[str, Any], str | None, "asyncio.Future[int]"]


def _lock_key(delivery: WebhookDelivery) -> str:
    """One lock per group: the stored digest (older rows: the body's groupKey)."""
    return delivery.group_key or group_key_digest(str(delivery.body.get("groupKey", "")))


class IntakeWriter:
    """Stores webhook bodies with group commit: one transaction for every body that
    arrived while the previous transaction was committing.

    Each caller still waits until its own row is committed before answering 2xx, so
    nothing answered is lost; under load, one commit serves many requests, which is what
    lets a single SQLite file accept thousands of alerts per second.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        max_batch: int = 500,
        config: AlertsConfig | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._config = config
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Stored] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0

    @property
    def busy(self) -> bool:
        """Webhook requests are waiting for their commit right now."""
        return self._in_flight > 0

    async def store(
        self, source: str, body: dict[str, Any], *, group_key: str | None = None
    ) -> int:
        """Commit one body; `group_key` is the digest of its group (by default, of the
        body's groupKey)."""
        if group_key is None and isinstance(body.get("groupKey"), str) and body["groupKey"]:
            group_key = group_key_digest(body["groupKey"])
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="intake-writer")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._in_flight += 1
        try:
            await self._queue.put((source, body, group_key, future))
            return await future
        finally:
            self._in_flight -= 1

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                ids = await self._write(batch)
            except Exception as exc:  # every waiter answers 5xx; Alertmanager retries
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (*_, future), delivery_id in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(delivery_id)

    async def _write(self, batch: list[_Stored]) -> list[int]:
        now = self._clock.now()
        rows = [
            WebhookDelivery(
                source=source,
                received_at=now,
                body=body,
                state="pending",
                priority=delivery_priority(body, self._config),
                group_key=group_key,
            )
            for source, body, group_key, _ in batch
        ]
        async with self._sessions.begin() as session:
            session.add_all(rows)
            await session.flush()
            return [row.id for row in rows]


async def process_notification(
    session: AsyncSession,
    notification: AlertmanagerNotification,
    config: AlertsConfig,
    now: datetime,
    listeners: Sequence[GroupListener] = (),
) -> str:
    """Apply one notification to the database; returns the outcome word for the delivery."""
    if not notification.alerts:
        return "empty"
    group = (
        await session.scalars(
            select(AlertGroup)
            .where(AlertGroup.group_key == notification.key_digest)
            .with_for_update()
        )
    ).first()
    digest = notification.digest()
    if group is not None and group.digest == digest:
        return "duplicate"

    firing = [a for a in notification.alerts if a.status == "firing"]
    priorities = [priority_of(a.labels, config) for a in (firing or notification.alerts)]
    labels = {**notification.group_labels, **notification.common_labels}
    placement = place(labels, priorities, config)
    earliest = min(a.starts_at for a in (firing or notification.alerts))

    if group is None:
        group = AlertGroup(
            group_key=notification.key_digest,
            group_key_text=notification.group_key,
            source=notification.source,
            receiver=notification.receiver[:255],
            status=notification.status,
            priority=placement.priority,
            channel=placement.channel,
            group_labels=notification.group_labels,
            common_labels=notification.common_labels,
            common_annotations=notification.common_annotations,
            external_url=notification.external_url[:1024],
            digest=digest,
            first_firing_at=earliest,
            firing_since=earliest,
            resolved_at=_resolved_at(notification, now),
            created_at=now,
            updated_at=now,
        )
        session.add(group)
        await session.flush()
        assumed = await _store_alerts(session, group, notification, now)
        await notify(listeners, session, group, "opened", now)
        await refresh_message(
            session, group, config, now, first=True, truncated=notification.truncated_alerts
        )
        await _say_assumed_starts(session, group, assumed, now)
        trail.record(
            session,
            at=now,
            actor=trail.SYSTEM,
            action="alert.opened",
            subject=f"alert-group:{group.id}",
            priority=group.priority,
            status=group.status,
            channel=group.channel,
            alertname=labels.get("alertname", ""),
        )
        return "new"

    previous = group.status
    group.status = notification.status
    group.digest = digest
    group.common_labels = notification.common_labels
    group.common_annotations = notification.common_annotations
    group.external_url = notification.external_url[:1024] or group.external_url
    group.updated_at = now
    # The message stays where it was first posted; the priority may still rise.
    if placement.priority < group.priority:
        group.priority = placement.priority
    assumed = await _store_alerts(session, group, notification, now)
    await _say_assumed_starts(session, group, assumed, now)
    subject = f"alert-group:{group.id}"

    if previous == "firing" and group.status == "resolved":
        group.resolved_at = _resolved_at(notification, now)
        await notify(listeners, session, group, "resolved", now)
        await refresh_message(session, group, config, now, truncated=notification.truncated_alerts)
        fired_for = format_duration((group.resolved_at or now) - group.firing_since)
        await reply(session, group, m.THREAD_RESOLVED.format(duration=fired_for), now)
        trail.record(session, at=now, actor=trail.SYSTEM, action="alert.resolved", subject=subject)
        return "resolved"
    if previous == "resolved" and group.status == "firing":
        resolved_ago = format_duration(now - (group.resolved_at or now))
        group.firing_since = earliest
        group.resolved_at = None
        # A new incident needs someone to pick it up again.
        group.acked_by = None
        group.acked_at = None
        await storm.release_after_storm(session, group)
        await notify(listeners, session, group, "refired", now)
        await refresh_message(session, group, config, now, truncated=notification.truncated_alerts)
        await reply(session, group, m.THREAD_REFIRED.format(ago=resolved_ago), now)
        trail.record(session, at=now, actor=trail.SYSTEM, action="alert.refired", subject=subject)
        return "refired"
    await notify(listeners, session, group, "updated", now)
    await refresh_message(session, group, config, now, truncated=notification.truncated_alerts)
    return "updated"


def _resolved_at(notification: AlertmanagerNotification, now: datetime) -> datetime | None:
    if notification.status != "resolved":
        return None
    ends = [a.ends_at for a in notification.alerts if a.ends_at is not None]
    return max(ends) if ends else now


async def _store_alerts(
    session: AsyncSession, group: AlertGroup, notification: AlertmanagerNotification, now: datetime
) -> int:
    """Store each alert's latest state; returns how many newly firing alerts came without
    a start time (their start is the time of receipt)."""
    existing = {
        row.fingerprint: row
        for row in (await session.scalars(select(Alert).where(Alert.group_id == group.id))).all()
    }
    assumed = 0
    for index, alert in enumerate(notification.alerts, start=1):
        if index % FLUSH_EVERY == 0:
            await session.flush()  # a big group is written in parts, so others get turns
        row = existing.get(alert.key)
        starts_at = alert.starts_at
        if alert.starts_at_assumed:
            if row is not None and row.status == alert.status:
                starts_at = row.starts_at  # the first receipt, not this redelivery's
            elif alert.status == "firing":
                assumed += 1
        if row is None:
            row = Alert(group_id=group.id, fingerprint=alert.key)
            session.add(row)
            existing[alert.key] = row
        row.status = alert.status
        row.alertname = alert.name[:255]
        row.labels = alert.labels
        row.annotations = alert.annotations
        row.starts_at = starts_at
        row.ends_at = alert.ends_at
        row.generator_url = alert.generator_url
        row.extras = (
            {**alert.extras, "start_assumed": True}
            if alert.starts_at_assumed
            else (alert.extras or None)
        )
        row.updated_at = now
    return assumed


async def _say_assumed_starts(
    session: AsyncSession, group: AlertGroup, count: int, now: datetime
) -> None:
    if count:
        text = m.THREAD_START_ASSUMED.format(
            count=f"{count:,}", at=now.strftime("%Y-%m-%d %H:%M:%S UTC")
        )
        await reply(session, group, text, now)


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
        self._idle = asyncio.Event()
        self._idle.set()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, poll_interval: float = 1.0) -> None:
        try:
            while True:
                self._wake.clear()
                self._idle.clear()
                leading = False
                try:
                    leading = await self._leader.try_acquire()
                    if leading:
                        await self.process_pending()
                        await self.close_storms()
                except Exception:
                    log.exception("processing webhook deliveries failed; retrying shortly")
                finally:
                    self._idle.set()
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

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def pending_count(self) -> int:
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.state == "pending")
            )
            return int(count or 0)

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
                for delivery in rows:
                    outcome = await self._apply(session, delivery, now)
                    status = str(delivery.body.get("status", ""))
                    results.append((status, outcome, delivery.source))
        except SQLAlchemyError:
            raise  # the database is unwell: leave the deliveries pending and retry
        except Exception:
            for delivery_id in ids:
                await self._process_one(delivery_id)
            return
        self._report(results)

    async def _apply(self, session: AsyncSession, delivery: WebhookDelivery, now: datetime) -> str:
        try:
            notification = await _parse(delivery)
        except PayloadError as exc:  # validated at intake; only an old row could fail
            await deliveries.record_failure(
                session, delivery, str(exc), self._config, now, retry=False
            )
            return "invalid"
        outcome = await process_notification(
            session, notification, self._config, now, self._listeners
        )
        delivery.state = "done"
        delivery.outcome = outcome
        delivery.error = None
        delivery.next_attempt_at = None
        delivery.processed_at = now
        return outcome

    async def _process_one(self, delivery_id: int) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.state != "pending":
                return
            await xact_lock(session, f"group:{_lock_key(delivery)}")
            try:
                outcome = await self._apply(session, delivery, now)
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

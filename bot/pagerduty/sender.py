"""Delivering the queued pages (bot/pagerduty/pages.py) through the Events API.

429/5xx and network errors stay pending and are retried with backoff (said once in the
thread), 400 fails for good (said in the thread), and each routing key is paced under
PagerDuty's ~120 events a minute. The routing key is read when a page is sent, never
stored with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.pagerduty import PagerError, PermanentPagerError, TemporaryPagerError
from actions.pagerduty.events import EventPayload, EventsClient, PagerEvent, backoff
from actions.pagerduty.ratelimit import RateLimiter
from alerts import messages as m
from alerts.slack_text import escape
from bot.alerts.groups import refresh_message, reply
from bot.audit import trail
from bot.clock import Clock
from bot.config import Config
from bot.metrics import Metrics
from bot.pagerduty.models import PagerDutyPage
from bot.settings import Settings
from bot.storage.models import AlertGroup

log = logging.getLogger(__name__)


def routing_key(ref: str, config: Config, settings: Settings) -> str | None:
    if ref.startswith("route:"):
        index = int(ref.split(":", 1)[1])
        if index < len(config.alerts.routes):
            key = config.alerts.routes[index].pagerduty_routing_key
            if key:
                return key
    secret = settings.pagerduty_routing_key
    return secret.get_secret_value() if secret is not None and secret.get_secret_value() else None


def build_event(page: PagerDutyPage, key: str) -> PagerEvent:
    if page.action == "trigger":
        payload = EventPayload(
            summary=str(page.payload.get("summary") or "Alert"),
            source=str(page.payload.get("source") or "chatops"),
            severity=page.payload.get("severity", "error"),
            custom_details=page.payload.get("custom_details"),
        )
        return PagerEvent.trigger(key, payload, dedup_key=page.dedup_key, client="chatops")
    if page.action == "acknowledge":
        return PagerEvent.acknowledge(key, page.dedup_key)
    return PagerEvent.resolve(key, page.dedup_key)


class PagingNotConfigured(PermanentPagerError):
    """No routing key for this page: a config gap, not PagerDuty's answer."""


class PageSender:
    """Delivers queued pages. Run only by the timer holder, and each row is claimed first."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        settings: Settings,
        clock: Clock,
        metrics: Metrics,
        *,
        on_outbox: Callable[[], None] = lambda: None,
        limiter: RateLimiter | None = None,
        rand: Callable[[], float] | None = None,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._on_outbox = on_outbox
        self._limiter = limiter or RateLimiter()
        self._rand = rand
        self.client: EventsClient | None = None

    def use_settings(self, settings: Settings) -> None:
        self._settings = settings

    def start(self, http: aiohttp.ClientSession) -> None:
        self.client = EventsClient(http, self._settings.pagerduty_events_url, limiter=self._limiter)

    async def recover(self) -> None:
        """Pages left `sending` by a process that died are sent again (PagerDuty
        deduplicates a repeated trigger by its dedup_key; ack/resolve are idempotent)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(PagerDutyPage)
                .where(PagerDutyPage.state == "sending")
                .values(state="pending")
            )

    async def drain(self, batch: int = 200, concurrency: int = 16) -> int:
        """Send every page that is due now; returns how many changed state.

        A batch is claimed in one transaction, then sent concurrently: a storm of P1s must
        not queue one HTTP round trip (and its bookkeeping) behind another. Pages for the
        same dedup_key stay in order, so an `acknowledge` never overtakes its `trigger`.
        """
        changed = 0
        gate = asyncio.Semaphore(concurrency)

        async def send_in_order(pages: list[PagerDutyPage]) -> None:
            for page in pages:
                async with gate:
                    error = await self._deliver(page)
                await self._finish(page, error, self._clock.now())

        while True:
            claimed = await self._claim(batch)
            by_key: dict[str, list[PagerDutyPage]] = {}
            for page in claimed:
                by_key.setdefault(page.dedup_key, []).append(page)
            await asyncio.gather(*(send_in_order(pages) for pages in by_key.values()))
            changed += len(claimed)
            if len(claimed) < batch:
                break
        await self.update_gauges()
        if changed:
            self._on_outbox()
        return changed

    async def _claim(self, batch: int) -> list[PagerDutyPage]:
        """Mark due pages `sending` (so no other sender takes them) and return them."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            ids = (
                await session.scalars(
                    select(PagerDutyPage.id)
                    .where(PagerDutyPage.state == "pending", PagerDutyPage.not_before <= now)
                    .order_by(PagerDutyPage.id)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not ids:
                return []
            await session.execute(
                update(PagerDutyPage)
                .where(PagerDutyPage.id.in_(ids), PagerDutyPage.state == "pending")
                .values(state="sending")
            )
            pages = list(
                (
                    await session.scalars(
                        select(PagerDutyPage)
                        .where(PagerDutyPage.id.in_(ids))
                        .order_by(PagerDutyPage.id)
                    )
                ).all()
            )
            session.expunge_all()
        return pages

    async def _deliver(self, page: PagerDutyPage) -> PagerError | None:
        key = routing_key(page.route_ref, self._config, self._settings)
        if key is None:
            return PagingNotConfigured(
                "no PagerDuty routing key: set PAGERDUTY_ROUTING_KEY or the route's "
                "pagerduty_routing_key"
            )
        if self.client is None:
            return TemporaryPagerError("the PagerDuty client is not started")
        try:
            await self.client.send(build_event(page, key))
        except PagerError as exc:
            return exc
        return None

    async def _finish(self, page: PagerDutyPage, error: PagerError | None, now: datetime) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(PagerDutyPage, page.id)
            # A page of no group (a heartbeat's) is delivered the same, said nowhere.
            group = await session.get(AlertGroup, page.group_id) if page.group_id else None
            if row is None or (group is None and page.group_id is not None):
                return
            row.attempts += 1
            if error is None:
                await self._sent(session, row, group, now)
            elif isinstance(error, TemporaryPagerError):
                await self._retry_later(session, row, group, error, now)
            else:
                await self._failed(session, row, group, error, now)

    async def _sent(
        self, session: AsyncSession, row: PagerDutyPage, group: AlertGroup | None, now: datetime
    ) -> None:
        row.state, row.sent_at, row.last_error = "sent", now, None
        self._metrics.pagerduty_events.labels(row.action, "ok").inc()
        trail.record(
            session,
            at=now,
            actor=trail.SYSTEM,
            action=f"pagerduty.{row.action}",
            subject=_subject(row, group),
            dedup_key=row.dedup_key,
            route=row.route_ref,
            attempts=row.attempts,
        )
        if row.action == "trigger" and group is not None:
            text = (
                m.THREAD_PAGE_LATE.format(attempts=row.attempts)
                if row.announced
                else m.THREAD_PAGED
            )
            await reply(session, group, text, now)
            await refresh_message(session, group, self._config.alerts, now)

    async def _retry_later(
        self,
        session: AsyncSession,
        row: PagerDutyPage,
        group: AlertGroup | None,
        error: TemporaryPagerError,
        now: datetime,
    ) -> None:
        """Pending again after a backoff (or PagerDuty's hint); the delay is said once."""
        message = error.message
        self._metrics.pagerduty_events.labels(row.action, "retry").inc()
        hint = error.retry_after or 0.0
        delay = max(
            hint,
            backoff(row.attempts, rand=self._rand) if self._rand else backoff(row.attempts),
        )
        row.state = "pending"
        row.last_error = message
        row.not_before = now + timedelta(seconds=delay)
        if not row.announced and row.action == "trigger" and group is not None:
            row.announced = True
            await reply(session, group, m.THREAD_PAGE_DELAYED.format(error=escape(message)), now)
        log.warning("page %s not delivered yet (attempt %d): %s", row.id, row.attempts, message)

    async def _failed(
        self,
        session: AsyncSession,
        row: PagerDutyPage,
        group: AlertGroup | None,
        error: PagerError,
        now: datetime,
    ) -> None:
        message = error.message
        self._metrics.pagerduty_events.labels(row.action, "failed").inc()
        row.state, row.last_error = "failed", message
        log.error("page %s refused for good: %s", row.id, message)
        trail.record(
            session,
            at=now,
            actor=trail.SYSTEM,
            action="pagerduty.failed",
            subject=_subject(row, group),
            dedup_key=row.dedup_key,
            route=row.route_ref,
            event_action=row.action,
            error=message,
        )
        if group is None:
            return
        # PagerDuty was never asked when no key is configured; say so, not "refused".
        template = (
            m.THREAD_PAGE_NOT_CONFIGURED
            if isinstance(error, PagingNotConfigured)
            else m.THREAD_PAGE_FAILED
        )
        await reply(session, group, template.format(error=escape(message)), now)

    async def update_gauges(self) -> None:
        async with self._sessions() as session:
            counts = dict(
                (
                    await session.execute(
                        select(PagerDutyPage.state, func.count())
                        .where(PagerDutyPage.state.in_(("pending", "sending", "failed")))
                        .group_by(PagerDutyPage.state)
                    )
                ).all()
            )
        self._metrics.pagerduty_pages_pending.set(
            counts.get("pending", 0) + counts.get("sending", 0)
        )
        self._metrics.pagerduty_pages_failed.set(counts.get("failed", 0))


def _subject(row: PagerDutyPage, group: AlertGroup | None) -> str:
    """The audit subject: the group, or what a page of no group names itself."""
    if group is not None:
        return f"alert-group:{group.id}"
    return str(row.payload.get("subject") or f"page:{row.dedup_key}")

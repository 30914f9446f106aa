"""Posting the weekly report once per period, whatever restarts or replicas do.

It runs in the replica that holds the timers (see bot/escalation/feature.py). The report
for a period is keyed by its due moment: under a transaction lock on that key, the bot
posts only if no outbox entry with the key exists yet, and the post, its figures and the
audit event commit together. A crash before the commit posts nothing and the next pass
tries again; after it, the outbox delivers the post and no pass queues a second one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit import trail
from bot.clock import Clock
from bot.replicas.claims import xact_lock
from bot.report.collect import load_events
from bot.report.figures import Figures, compute
from bot.report.render import to_blocks
from bot.report.schedule import ReportConfig, last_due, period_before
from bot.slack.outbox_queue import enqueue, enqueue_upload
from bot.storage.models import OutboxEntry

log = logging.getLogger(__name__)

# A report more than this late (the bot was down all that time) is skipped, not posted
# days later; the next period's report comes as usual.
LATE_LIMIT = timedelta(hours=24)


def _render_png(figures: Figures) -> bytes:
    from bot.report.chart import render_png  # matplotlib takes seconds to import

    return render_png(figures)


def report_key(due: datetime) -> str:
    return f"weekly-report:{due.isoformat()}"


class WeeklyReport:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: ReportConfig,
        clock: Clock,
        *,
        on_outbox: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._on_outbox = on_outbox
        self._posted_for: datetime | None = None  # saves a query per timer pass

    async def post_due(self) -> bool:
        """Queue the report for the latest due period unless it is queued already."""
        config = self._config
        due = last_due(self._clock.now(), config.every, config.timezone)
        if self._posted_for == due:
            return False
        if self._clock.now() - due > LATE_LIMIT:
            log.info("weekly report due %s skipped: more than %s late", due, LATE_LIMIT)
            self._posted_for = due
            return False
        key = report_key(due)
        async with self._sessions.begin() as session:
            await xact_lock(session, key)
            exists = await session.scalar(
                select(OutboxEntry.id).where(OutboxEntry.message_key == key).limit(1)
            )
            if exists is not None:
                self._posted_for = due
                return False
            await self._queue(session, due, key)
        self._posted_for = due
        if self._on_outbox is not None:
            self._on_outbox()
        return True

    async def _queue(self, session: AsyncSession, due: datetime, key: str) -> None:
        config = self._config
        since, until = period_before(due, config.every, config.timezone)
        before_since, _ = period_before(since, config.every, config.timezone)
        events = await load_events(session, before_since, until)
        current = compute([e for e in events if e.at >= since], since, until)
        previous = compute([e for e in events if e.at < since], before_since, since)
        title = f"Weekly operations report: {since:%b %d} – {until:%b %d}"
        now = self._clock.now()
        await enqueue(
            session,
            op="post",
            channel=config.channel,
            message_key=key,
            priority=3,
            payload={
                "text": f"{title}: {sum(current.incidents.values())} alert groups, "
                f"{current.deploys} deploys, {current.rollbacks} rollbacks",
                "blocks": to_blocks(current, previous, title=title),
            },
            now=now,
        )
        # The charts go into the report's thread; rendered off the loop (once a week).
        png = await asyncio.to_thread(_render_png, current)
        await enqueue_upload(
            session,
            channel=config.channel,
            content=png,
            filename=f"operations-{since:%Y-%m-%d}.png",
            title=title,
            alt_text="Incidents per day by priority, MTTA and MTTR by priority, "
            "deploys and rollbacks per day",
            message_key=key,
            priority=3,
            now=now,
        )
        trail.record(
            session,
            at=now,
            actor=trail.SYSTEM,
            action="report.posted",
            subject=key,
            since=since.isoformat(),
            until=until.isoformat(),
            channel=config.channel,
        )
        log.info("weekly report for %s – %s queued for %s", since, until, config.channel)

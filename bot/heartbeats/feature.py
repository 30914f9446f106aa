"""Heartbeats wired together: signals from the webhooks, lateness on the timer holder.

Any replica records a signal (an Alertmanager alert matching a heartbeat's labels, or
`POST /heartbeats/{name}`) in its request, before answering; only the timer holder turns
a passed due time into "late" (run among escalation's timer jobs, with the injected
clock). Both changes are claimed with an UPDATE on the state, and their message and page
are queued in that transaction, so each is said and paged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.alertmanager import AlertmanagerNotification
from bot.audit import trail
from bot.clock import Clock
from bot.heartbeats.models import Heartbeat
from bot.keyed_pages import KeyedPager
from bot.metrics import Metrics
from bot.slack.outbox_queue import enqueue
from oncall import heartbeats as hb
from oncall.config import HeartbeatConfig

log = logging.getLogger(__name__)


def dedup_key(name: str) -> str:
    # One PagerDuty alert per heartbeat: re-triggered after a resolve, it opens a new one.
    return f"chatops:heartbeat:{name}"


def _subject(name: str) -> str:
    return f"heartbeat:{name}"


def _rank(priority: str) -> int:
    return int(priority[1])  # "P1" -> 1: the outbox's order


class Heartbeats:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        heartbeats: Sequence[HeartbeatConfig],
        clock: Clock,
        metrics: Metrics,
        pager: KeyedPager,  # the durable page queue (bot/pagerduty/paging.py)
        *,
        on_outbox: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._by_name = {h.name: h for h in heartbeats}
        self._clock = clock
        self._gauge = metrics.heartbeat_last_seen
        self._pager = pager
        self._on_outbox = on_outbox

    def known(self, name: str) -> bool:
        return name in self._by_name

    async def start(self) -> None:
        """Watch every configured heartbeat: a new one counts from now; a stored due time
        that passed while the bot was down counts from now too (oncall/heartbeats.py)."""
        if not self._by_name:
            return
        now = self._clock.now()
        try:
            await self._watch(now)
        except IntegrityError:
            await self._watch(now)  # another replica inserted the same rows at once
        await self.refresh_gauges()

    async def _watch(self, now: datetime) -> None:
        async with self._sessions.begin() as session:
            rows = {
                row.name: row
                for row in (
                    await session.scalars(
                        select(Heartbeat).where(Heartbeat.name.in_(list(self._by_name)))
                    )
                ).all()
            }
            for name, heartbeat in self._by_name.items():
                row = rows.get(name)
                if row is None:
                    session.add(
                        Heartbeat(
                            name=name,
                            watched_since=now,
                            due_at=hb.due_after(heartbeat, now),
                            state="ok",
                        )
                    )
                    continue
                due = hb.due_at_start(heartbeat, row.last_seen_at or row.watched_since, now)
                if row.state == "ok" and due != row.due_at:
                    await session.execute(
                        update(Heartbeat)
                        .where(
                            Heartbeat.name == name,
                            Heartbeat.state == "ok",
                            Heartbeat.due_at == row.due_at,
                        )
                        .values(due_at=due)
                    )

    def take(self, notification: AlertmanagerNotification) -> tuple[set[str], list[int]]:
        """Which heartbeats the notification signals, and which of its alerts are theirs."""
        return hb.signals_in(
            self._by_name.values(),
            ((alert.labels, alert.status == "firing") for alert in notification.alerts),
        )

    async def signal(self, names: Iterable[str]) -> None:
        """Record a signal for each named (configured) heartbeat, now; a late one is back."""
        now = self._clock.now()
        back = False
        async with self._sessions.begin() as session:
            for name in sorted(set(names)):
                heartbeat = self._by_name.get(name)
                if heartbeat is not None:
                    back = await self._seen(session, heartbeat, now) or back
        for name in names:
            if name in self._by_name:
                self._gauge.labels(name).set(now.timestamp())
        if back:
            self._on_outbox()

    async def _seen(self, session: AsyncSession, heartbeat: HeartbeatConfig, now: datetime) -> bool:
        row = await session.get(Heartbeat, heartbeat.name, with_for_update=True)
        if row is None:
            session.add(
                Heartbeat(
                    name=heartbeat.name,
                    watched_since=now,
                    last_seen_at=now,
                    due_at=hb.due_after(heartbeat, now),
                    state="ok",
                )
            )
            return False
        previous = row.last_seen_at or row.watched_since
        claimed = await session.execute(
            update(Heartbeat)
            .where(Heartbeat.name == heartbeat.name, Heartbeat.state == "late")
            .values(state="ok", late_at=None)
        )
        await session.execute(
            update(Heartbeat)
            .where(Heartbeat.name == heartbeat.name)
            .values(last_seen_at=now, due_at=hb.due_after(heartbeat, now))
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        silent = now - previous
        await enqueue(
            session,
            op="post",
            channel=heartbeat.channel,
            payload=hb.back_message(heartbeat, silent),
            now=now,
            priority=_rank(heartbeat.priority),
        )
        await self._pager.resolve_keyed(
            session, dedup_key(heartbeat.name), now, subject=_subject(heartbeat.name)
        )
        trail.record(
            session,
            at=now,
            actor=trail.SYSTEM,
            action="heartbeat.back",
            subject=_subject(heartbeat.name),
            silent_seconds=int(silent.total_seconds()),
        )
        return True

    async def check(self) -> int:
        """Timer holder only: mark every heartbeat whose due time passed late, post it
        and page. How many went late."""
        if not self._by_name:
            return 0
        now = self._clock.now()
        async with self._sessions() as session:
            due = (
                await session.scalars(
                    select(Heartbeat.name).where(
                        Heartbeat.state == "ok",
                        Heartbeat.due_at <= now,
                        Heartbeat.name.in_(list(self._by_name)),
                    )
                )
            ).all()
        late = 0
        for name in due:
            if await self._go_late(self._by_name[name], now):
                late += 1
        if late:
            self._on_outbox()
        await self.refresh_gauges()
        return late

    async def _go_late(self, heartbeat: HeartbeatConfig, now: datetime) -> bool:
        async with self._sessions.begin() as session:
            claimed = await session.execute(
                update(Heartbeat)
                .where(
                    Heartbeat.name == heartbeat.name,
                    Heartbeat.state == "ok",
                    Heartbeat.due_at <= now,
                )
                .values(state="late", late_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return False  # a signal arrived meanwhile
            row = await session.get(Heartbeat, heartbeat.name, populate_existing=True)
            assert row is not None
            since = row.last_seen_at or row.watched_since
            await enqueue(
                session,
                op="post",
                channel=heartbeat.channel,
                payload=hb.late_message(heartbeat, row.last_seen_at, since, now),
                now=now,
                priority=_rank(heartbeat.priority),
            )
            self._pager.trigger_keyed(
                session,
                dedup_key=dedup_key(heartbeat.name),
                summary=hb.page_summary(heartbeat),
                priority=heartbeat.priority,
                subject=_subject(heartbeat.name),
                details={"heartbeat": heartbeat.name, "channel": heartbeat.channel},
                now=now,
            )
            trail.record(
                session,
                at=now,
                actor=trail.SYSTEM,
                action="heartbeat.late",
                subject=_subject(heartbeat.name),
                priority=heartbeat.priority,
                silent_seconds=int((now - since).total_seconds()),
            )
        log.warning("heartbeat %s is late", heartbeat.name)
        return True

    async def refresh_gauges(self) -> None:
        """The last signal of each heartbeat from the database (0: never seen), so every
        replica exports what any of them heard (read at each scrape of /metrics)."""
        if not self._by_name:
            return
        try:
            async with self._sessions() as session:
                seen = dict(
                    (
                        await session.execute(
                            select(Heartbeat.name, Heartbeat.last_seen_at).where(
                                Heartbeat.name.in_(list(self._by_name))
                            )
                        )
                    ).all()
                )
        except SQLAlchemyError as exc:
            # /metrics must answer with the database down: the last figures stand.
            log.warning("heartbeat figures not read: %s", type(exc).__name__)
            return
        for name in self._by_name:
            last = seen.get(name)
            self._gauge.labels(name).set(last.timestamp() if last is not None else 0)

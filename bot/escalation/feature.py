"""Escalation wired together: listener, engine, page sender, timer lock and timer wheel.

APScheduler's `AsyncIOScheduler` is only the wheel: it holds one job for the earliest
pending due time (re-armed from the table at start and after each pass) and a sweep
every few seconds for steps that other replicas planned. Whatever fires, the loop asks
the database what is due; the database decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Config
from bot.escalation.engine import EscalationEngine, EscalationListener, Pager
from bot.escalation.reported import MutedCheck
from bot.metrics import Metrics
from bot.replicas.lease import Leader, build_leader

log = logging.getLogger(__name__)

STEP_BATCH = 20


class PageQueue(Pager, Protocol):
    """The pager, and the delivery of what it queued (run by the timer holder)."""

    async def recover(self) -> None:
        """Pages a stopped process left half-sent are sent again."""
        ...

    async def drain(self) -> int:
        """Send every page due now; how many changed state."""
        ...


SWEEP_SECONDS = 2.0  # steps planned by other replicas are seen within this
LEADER_RETRY_SECONDS = 3.0  # how often a standby tries to take the timers over


class Escalation:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        config: Config,
        clock: Clock,
        metrics: Metrics,
        wake_outbox: Callable[[], None],
        pager: PageQueue,
        timer_jobs: Sequence[Callable[[], Awaitable[object]]] = (),
        muted: MutedCheck | None = None,
    ) -> None:
        """`pager` queues the pages and, run by the timer holder only, delivers them
        (bot/pagerduty/paging.py)."""
        self._clock = clock
        # Other durable timers that must run in exactly one replica (the weekly report).
        self._timer_jobs = tuple(timer_jobs)
        self._metrics = metrics
        self.engine = EscalationEngine(sessions, config, clock, metrics, pager, muted)
        self.sender = pager
        self.listener = EscalationListener(config, self.arm, pager)
        self.leader: Leader = build_leader(config.leader, engine, clock)
        self._on_outbox = wake_outbox
        self._wake = asyncio.Event()
        self._scheduler: AsyncIOScheduler | None = None
        self._armed: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._leading = False

    def start(self, *, run_workers: bool) -> None:
        if run_workers:
            self._scheduler = AsyncIOScheduler(timezone=UTC)
            self._scheduler.add_job(
                self._wake.set, "interval", seconds=SWEEP_SECONDS, id="escalation-sweep"
            )
            self._scheduler.start()
            self._task = asyncio.create_task(self._run(), name="escalation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        await self.leader.release()
        self._leading = False
        self._metrics.timer_leader.set(0)
        self._clear_holder_figures()

    async def tick(self) -> int:
        """One pass: run due steps, then deliver due pages. Tests call this directly."""
        now = self._clock.now()
        # Pages go out after every small batch of steps, not after all of them: with a
        # thousand steps due in one minute, the first page must not wait for the last step.
        ran = 0
        while True:
            found, done = await self.engine.run_due_batch(now, STEP_BATCH)
            ran += done
            await self.sender.drain()
            if found < STEP_BATCH:
                break
        await self._measure_lag()
        if ran:
            self._on_outbox()
        for job in self._timer_jobs:
            try:
                await job()
            except Exception:
                log.exception("timer job %s failed; retrying at the next pass", job)
        return ran

    def arm(self, due: datetime) -> None:
        """Wake at `due` (called after a commit that planned a step)."""
        if self._scheduler is None:
            return
        if due <= self._clock.now() + timedelta(milliseconds=50):
            self._wake.set()
            return
        if self._armed is not None and self._armed <= due:
            return
        self._armed = due
        self._scheduler.add_job(
            self._wake.set,
            "date",
            run_date=due,
            id="escalation-next",
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def rearm(self) -> datetime | None:
        """Arm the wheel for the earliest pending step in the table (at start, after a pass)."""
        due = await self.engine.next_due()
        self._armed = None
        if due is not None:
            self.arm(due)
        return due

    async def run_once(self) -> bool:
        """One turn of the loop: take or keep the timer lock; the holder runs a pass, a
        standby only measures. True while this process holds the lock."""
        leading = await self.leader.try_acquire()
        self._metrics.timer_leader.set(1 if leading else 0)
        if not leading:
            self._leading = False
            self._clear_holder_figures()
            await self._measure_lag()
            return False
        if not self._leading:
            await self.sender.recover()
        self._leading = True
        await self.tick()
        await self.rearm()
        return True

    async def _measure_lag(self) -> None:
        """How late the oldest due step is, read from the database. Every replica measures
        it, not only the holder: with no holder, or a holder stuck mid-pass, the steps
        still fall behind, and max() across replicas must show it."""
        oldest = await self.engine.next_due()
        lag = (self._clock.now() - oldest).total_seconds() if oldest is not None else 0.0
        self._metrics.escalation_lag_seconds.set(max(lag, 0.0))

    def _clear_holder_figures(self) -> None:
        """Page counts are the sender's tally after its delivery pass, which only the
        holder runs: a replica that does not hold the lock (any more) reports 0, so a
        former holder's last count does not linger and max() across replicas is the
        holder's figure."""
        self._metrics.pagerduty_pages_pending.set(0)
        self._metrics.pagerduty_pages_failed.set(0)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("escalation pass failed; retrying shortly")
            timeout = SWEEP_SECONDS if self._leading else LEADER_RETRY_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

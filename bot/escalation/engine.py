"""The escalation engine: plans steps as rows, and runs the due ones exactly once.

`EscalationListener` hears group changes inside intake's (or the button's) transaction:
opening plans the policy's steps, acknowledgement and resolution cancel them and queue
the matching PagerDuty follow-up, and losing the acknowledgement (unacknowledged or
reopened in PagerDuty) plans them again. `EscalationEngine.run_due(now)` performs every step due
at `now`; tests call it with fake-clock times, production calls it when the timer wheel
fires. Each step is claimed by an UPDATE that only succeeds while it is still pending,
in the transaction that performs it: on PostgreSQL a second process blocks on the row
and then finds it done, so a step runs once however many processes try.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import messages as m
from alerts.blocks import mention_markup
from alerts.durations import format_duration
from alerts.escalation import PAGERDUTY_ACTOR, first_steps, is_digest, next_after
from bot.alerts.events import Change
from bot.alerts.groups import oncall_note, reply
from bot.audit import trail
from bot.clock import Clock
from bot.config import Config
from bot.escalation import digest, reported
from bot.escalation.models import EscalationStep
from bot.escalation.reported import MutedCheck
from bot.escalation.steps import Arm, after_commit, new_step
from bot.metrics import Metrics
from bot.storage.models import AlertGroup

log = logging.getLogger(__name__)


class Pager(Protocol):
    """Paging as escalation decides it, queued in the caller's transaction
    (bot/pagerduty/paging.py): escalation sits above PagerDuty and imports nothing of it."""

    async def trigger(
        self, session: AsyncSession, group: AlertGroup, now: datetime
    ) -> tuple[int, str]:
        """Queue the group's page; (how many events, the route whose key pages it)."""
        ...

    async def follow_up(
        self, session: AsyncSession, group: AlertGroup, action: str, now: datetime, *, send: bool
    ) -> int:
        """Queue `acknowledge` or `resolve` for what was paged; how many events."""
        ...

    async def reopen(self, session: AsyncSession, group: AlertGroup) -> None:
        """The next acknowledgement or resolution is sent to PagerDuty again."""
        ...


async def cancel_steps(session: AsyncSession, group: AlertGroup, now: datetime, why: str) -> int:
    result = await session.execute(
        update(EscalationStep)
        .where(EscalationStep.group_id == group.id, EscalationStep.state == "pending")
        .values(state="cancelled", finished_at=now, note=why)
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count:
        trail.record(
            session,
            at=now,
            actor=trail.SYSTEM,
            action="escalation.stopped",
            subject=f"alert-group:{group.id}",
            reason=why,
            steps=count,
        )
    return count


class EscalationListener:
    def __init__(self, config: Config, arm: Arm, pager: Pager) -> None:
        self._config = config
        self._arm = arm
        self._pager = pager

    async def group_changed(
        self, session: AsyncSession, group: AlertGroup, change: Change, now: datetime, actor: str
    ) -> None:
        if change in ("opened", "refired"):
            if change == "refired":
                await cancel_steps(session, group, now, "fired again")
            await self.plan(session, group, now)
        elif change == "updated":
            # The priority may have risen: plan the new priority's steps once.
            if group.status == "firing" and not group.acked_by:
                planned = await session.scalar(
                    select(func.count())
                    .select_from(EscalationStep)
                    .where(
                        EscalationStep.group_id == group.id,
                        EscalationStep.priority == group.priority,
                    )
                )
                if not planned:
                    await cancel_steps(session, group, now, f"priority rose to {group.priority}")
                    await self.plan(session, group, now)
        elif change == "acknowledged":
            await cancel_steps(session, group, now, f"acknowledged by {actor}")
            # An acknowledgement that came from PagerDuty is not sent back to it.
            await self._pager.follow_up(
                session, group, "acknowledge", now, send=actor != PAGERDUTY_ACTOR
            )
            self._arm(now)
        elif change == "unacknowledged":
            await self.restart(session, group, now)
        elif change == "reported":
            await reported.resume(session, group, now, self._arm)
        elif change == "resolved":
            await cancel_steps(session, group, now, "resolved")
            if await self._pager.follow_up(session, group, "resolve", now, send=True):
                after_commit(session, now, self._arm)

    async def restart(self, session: AsyncSession, group: AlertGroup, now: datetime) -> None:
        """Escalate again from the priority's policy, as if the group had just opened.

        Steps still pending mean the group is escalating already (a second unacknowledged
        event, say): planning again would page twice for the same step, so nothing
        changes. A later acknowledgement is sent to PagerDuty again.
        """
        if group.status != "firing" or group.acked_by:
            return
        pending = await session.scalar(
            select(func.count())
            .select_from(EscalationStep)
            .where(EscalationStep.group_id == group.id, EscalationStep.state == "pending")
        )
        if pending:
            return
        await self._pager.reopen(session, group)
        trail.record(
            session,
            at=now,
            actor=trail.SYSTEM,
            action="escalation.restarted",
            subject=f"alert-group:{group.id}",
            priority=group.priority,
        )
        await self.plan(session, group, now)

    async def plan(self, session: AsyncSession, group: AlertGroup, now: datetime) -> None:
        policy = self._config.alerts.escalation.get(group.priority)  # type: ignore[call-overload]
        if policy is None:
            return
        if is_digest(policy):
            due = await digest.ensure_planned(session, group.channel, group.priority, policy, now)
            if due is not None:
                after_commit(session, due, self._arm)
            return
        for planned in first_steps(policy):
            due = now + planned.after
            session.add(
                new_step(
                    group=group,
                    channel=group.channel,
                    priority=group.priority,
                    kind=planned.kind,
                    due=due,
                    now=now,
                    payload={"since": now.isoformat()},
                )
            )
            after_commit(session, due, self._arm)


class EscalationEngine:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        clock: Clock,
        metrics: Metrics,
        pager: Pager,
        muted: MutedCheck | None = None,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._metrics = metrics
        self._pager = pager
        self._muted = muted

    async def next_due(self) -> datetime | None:
        """The earliest pending step: what the timer wheel is armed for at start."""
        async with self._sessions() as session:
            return await session.scalar(
                select(func.min(EscalationStep.due_at)).where(EscalationStep.state == "pending")
            )

    async def run_due(self, now: datetime, batch: int = 100) -> int:
        """Run every step due at `now`; returns how many this process ran."""
        ran = 0
        while True:
            selected, done = await self.run_due_batch(now, batch)
            ran += done
            if selected < batch:
                return ran

    async def run_due_batch(self, now: datetime, batch: int) -> tuple[int, int]:
        """Run up to `batch` due steps, oldest first; returns (found, ran by this process)."""
        async with self._sessions() as session:
            ids = (
                await session.scalars(
                    select(EscalationStep.id)
                    .where(EscalationStep.state == "pending", EscalationStep.due_at <= now)
                    .order_by(EscalationStep.due_at, EscalationStep.id)
                    .limit(batch)
                )
            ).all()
        ran = 0
        for step_id in ids:
            if await self._run_one(step_id, now):
                ran += 1
        return len(ids), ran

    async def _run_one(self, step_id: int, now: datetime) -> bool:
        try:
            async with self._sessions.begin() as session:
                claimed = await session.execute(
                    update(EscalationStep)
                    .where(EscalationStep.id == step_id, EscalationStep.state == "pending")
                    .values(state="done", finished_at=now)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    return False  # another process ran it, or it was cancelled
                step = await session.get(EscalationStep, step_id)
                assert step is not None
                outcome = await self._perform(session, step, now)
                if outcome != "done":
                    step.state = outcome
            self._metrics.escalation_steps.labels(step.kind, outcome).inc()
            return True
        except SQLAlchemyError:
            raise  # the database is unwell: the step stays pending and is retried
        except Exception as exc:
            # A bug must not make the step run again at every tick: park it, loudly.
            log.exception("escalation step %s failed", step_id)
            async with self._sessions.begin() as session:
                await session.execute(
                    update(EscalationStep)
                    .where(EscalationStep.id == step_id, EscalationStep.state == "pending")
                    .values(state="failed", finished_at=now, note=f"{type(exc).__name__}: {exc}")
                )
            return False

    async def _perform(self, session: AsyncSession, step: EscalationStep, now: datetime) -> str:
        if step.kind == "digest":
            return await digest.run(session, step, self._config.alerts, now)
        group = await session.get(AlertGroup, step.group_id) if step.group_id else None
        if group is None or group.status != "firing" or group.acked_by:
            return "skipped"
        instead = await reported.held_back(session, step, group, now, self._muted)
        if instead is not None:
            return instead  # skipped steps are due again when their alerts are reported
        subject = f"alert-group:{group.id}"
        policy = self._config.alerts.escalation.get(group.priority)  # type: ignore[call-overload]
        since = step.payload.get("since")
        age = format_duration(now - (datetime.fromisoformat(since) if since else group.created_at))
        if step.kind == "page":
            count, route = await self._pager.trigger(session, group, now)
            trail.record(
                session,
                at=now,
                actor=trail.SYSTEM,
                action="escalation.paged",
                subject=subject,
                priority=group.priority,
                events=count,
                route=route,
            )
        elif step.kind == "renotify":
            mention = mention_markup(policy.mention) + " " if policy and policy.mention else ""
            oncall = await oncall_note(session, group)  # who holds the pager now, by name
            mention += f"{oncall} " if oncall else ""
            await reply(
                session,
                group,
                m.THREAD_RENOTIFY.format(mention=mention, duration=age),
                now,
                in_summary=True,
            )
            trail.record(
                session, at=now, actor=trail.SYSTEM, action="escalation.renotified", subject=subject
            )
            if policy is not None and policy.renotify_every is not None:
                session.add(
                    new_step(
                        group=group,
                        channel=step.channel,
                        priority=step.priority,
                        kind="renotify",
                        due=next_after(step.due_at, policy.renotify_every, now),
                        now=now,
                        payload=dict(step.payload),
                    )
                )
        elif step.kind == "remind":
            await reply(session, group, m.THREAD_REMIND.format(duration=age), now, in_summary=True)
            trail.record(
                session, at=now, actor=trail.SYSTEM, action="escalation.reminded", subject=subject
            )
        return "done"

"""Running an approved plan: re-check, lock, then the steps with progress and rollback.

Each step is recorded in the database before it starts, so a crash leaves an operation
that says where it stopped; at the next start it is reported, never resumed
(recovery.py). The bake step does not hold a task for minutes: the operation waits in
state `baking` with a due time and the sweep ends it (bake_outcome.py). Every ending goes
through finishing.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.deploy.base import Backend, BackendError
from actions.deploy.health import HealthCheck
from bot.approvals.ids import SYSTEM, subject
from bot.approvals.models import ApprovalRequestRow
from bot.audit import trail
from bot.clock import Clock
from bot.operations import messaging
from bot.operations.backends import Backends
from bot.operations.finishing import Finisher
from bot.operations.models import OperationRow
from bot.operations.preemption import supersede
from bot.operations.store import (
    BLOCKING_PRIORITIES,
    PREEMPTIBLE,
    firing_alerts,
    load_request,
    lock_holder,
    try_lock,
    unlock,
)
from commands.approval import ApprovalRequest, Outcome, abort, start
from commands.config import DeployConfig
from commands.freeze_windows import window_note
from commands.plan import OperationPlan, Step, recheck
from commands.progress import (
    progress_finished,
    progress_late_step,
    progress_rolled_back,
    progress_started,
    progress_step_finished,
    progress_step_started,
    result_failed,
    result_rolled_back,
    result_succeeded,
)
from commands.render import describe_step
from commands.targets import DeploymentState, Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Lock:
    """Whether the run got the target's lock, and from whom (a shift a rollback preempts)."""

    locked: bool
    holder: OperationRow | None
    preempted: OperationRow | None


class Executor:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: DeployConfig,
        clock: Clock,
        backends: Backends,
        health: HealthCheck,
        finisher: Finisher,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._backends = backends
        self._health = health
        self._finisher = finisher

    # --- start ---------------------------------------------------------------------

    async def run(self, request_id: str) -> None:
        """Re-check an Approved request and run it, or mark it Failed without running."""
        async with self._sessions() as session:
            loaded = await load_request(session, request_id)
        if loaded is None or loaded[1].status is not Outcome.APPROVED:
            return
        plan = loaded[1].operation
        try:
            backend = self._backends.for_target(plan.target)
            current, problem = await backend.state(plan.target), None
        except BackendError as exc:
            where = f"{plan.target.service}/{plan.target.environment}"
            current, problem = plan.from_state, f"could not read the state of {where}: {exc}"
        started = await self._admit(request_id, current, problem)
        if started is not None:
            operation_id, request, channel = started
            await self._steps(operation_id, request, channel, backend)

    async def _admit(
        self, request_id: str, current: DeploymentState, problem: str | None
    ) -> tuple[int, ApprovalRequest, str] | None:
        """In one transaction: re-check the plan, take the lock and start, or refuse.
        Returns the operation that started, with its request and channel."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found = await load_request(session, request_id, for_update=True)
            if found is None or found[1].status is not Outcome.APPROVED:
                return None
            row, request = found
            plan = request.operation
            lock = await self._lock(session, plan, request_id, now, may_lock=problem is None)
            reason = problem or recheck(
                plan,
                current,
                busy=not lock.locked,
                busy_with=lock.holder.kind if lock.holder is not None else None,
                blocking_alerts=await self._blocking_alerts(session, plan),
                # A window that opened after the approval stops the run all the same.
                window=window_note(
                    self._config.freezes, plan.target.service, plan.target.environment, now
                ),
            )
            if reason is not None:
                if lock.locked:
                    await unlock(session, plan.target, request_id)
                await self._not_run(session, row, request, reason, now)
                return None
            request = start(request, now)
            await self._finisher.show(session, row, request, now)
            if lock.preempted is not None:
                await supersede(session, lock.preempted, request, row.channel, self._config, now)
            operation_id = await self._started(session, row, request, now)
            return operation_id, request, row.channel

    async def _blocking_alerts(self, session: AsyncSession, plan: OperationPlan) -> list[str]:
        # A rollback is the remedy for the very alerts that block other operations.
        if plan.kind == "rollback":
            return []
        alerts = await firing_alerts(session, plan.target.service)
        return [a.line for a in alerts if a.priority in BLOCKING_PRIORITIES]

    async def _lock(
        self,
        session: AsyncSession,
        plan: OperationPlan,
        request_id: str,
        now: datetime,
        *,
        may_lock: bool,
    ) -> _Lock:
        # A rollback takes the lock from a shift (running or baking); from another
        # rollback it does not: that one already returns the traffic, and this plan
        # was made from the state it is changing.
        holder = None
        if may_lock and plan.kind == "rollback":
            holder = await lock_holder(session, plan.target, for_update=True)
        preempted = holder if holder is not None and holder.kind in PREEMPTIBLE else None
        locked = may_lock and (
            preempted is not None or await try_lock(session, plan.target, request_id, now)
        )
        return _Lock(locked, holder, preempted)

    async def _not_run(
        self,
        session: AsyncSession,
        row: ApprovalRequestRow,
        request: ApprovalRequest,
        reason: str,
        now: datetime,
    ) -> None:
        request = abort(request, reason, now)
        await self._finisher.show(session, row, request, now)
        await messaging.reply(session, request.id, row.channel, progress_finished(request), now)
        trail.record(
            session,
            at=now,
            actor=SYSTEM,
            action="operation.not_run",
            subject=subject(request.id),
            reason=reason,
        )

    async def _started(
        self,
        session: AsyncSession,
        row: ApprovalRequestRow,
        request: ApprovalRequest,
        now: datetime,
    ) -> int:
        plan = request.operation
        operation = OperationRow(
            request_id=request.id,
            service=plan.target.service,
            environment=plan.target.environment,
            kind=plan.kind,
            status="running",
            step=0,
            plan=plan.to_dict(),
            started_at=now,
        )
        session.add(operation)
        await session.flush()
        await messaging.reply(session, request.id, row.channel, progress_started(request), now)
        trail.record(
            session,
            at=now,
            actor=SYSTEM,
            action="operation.started",
            subject=subject(request.id),
            requester=request.requester,
            approvers=list(request.approved_by),
            command=plan.kind,
            service=plan.target.service,
            environment=plan.target.environment,
        )
        return operation.id

    # --- steps ---------------------------------------------------------------------

    async def _steps(
        self, operation_id: int, request: ApprovalRequest, channel: str, backend: Backend
    ) -> None:
        plan = request.operation
        for index, step in enumerate(plan.steps, 1):
            began = self._clock.now()
            async with self._sessions.begin() as session:
                operation = await session.get(OperationRow, operation_id, with_for_update=True)
                assert operation is not None
                if operation.status == "superseded":
                    return  # a rollback took over; it has said so in this thread
                operation.step = index
                if step.kind == "bake":
                    operation.status = "baking"
                    operation.bake_until = began + timedelta(seconds=step.seconds or 0)
                await messaging.reply(
                    session, request.id, channel, progress_step_started(plan, index), began
                )
            if step.kind == "bake":
                return  # the sweep or the bake watch takes it from here
            error: str | None = None
            try:
                await self._do(step, plan.target, backend)
            except BackendError as exc:
                error = str(exc) or type(exc).__name__
            except Exception as exc:  # a bug or an unexpected client error: still report it
                log.exception("step %s of %s failed unexpectedly", index, request.id)
                error = f"unexpected error ({type(exc).__name__})"
            ended = self._clock.now()
            async with self._sessions.begin() as session:
                operation = await session.get(OperationRow, operation_id, with_for_update=True)
                superseded = operation is not None and operation.status == "superseded"
            if superseded:
                # A rollback took over while this step was in flight.
                await self._in_flight_when_superseded(request, index, channel, backend, error)
                return
            async with self._sessions.begin() as session:
                text = progress_step_finished(plan, index, ended - began, error=error)
                await messaging.reply(session, request.id, channel, text, ended)
                trail.record(
                    session,
                    at=ended,
                    actor=SYSTEM,
                    action="operation.step",
                    subject=subject(request.id),
                    index=index,
                    step=describe_step(step, plan),
                    kind=step.kind,
                    started_at=began.isoformat(),
                    seconds=(ended - began).total_seconds(),
                    error=error,
                )
            if error is not None:
                await self._failed(operation_id, plan, index, error, backend)
                return
        await self._finisher.finish(
            operation_id, Outcome.SUCCEEDED, result_succeeded(plan), "succeeded"
        )

    async def _in_flight_when_superseded(
        self,
        request: ApprovalRequest,
        index: int,
        channel: str,
        backend: Backend,
        error: str | None,
    ) -> None:
        """A step that moved traffic may have landed after the rollback's own weights: set
        the traffic back to where the rollback puts it (the same baseline colour at 100%),
        so the order in which two replicas' calls arrived does not decide the outcome."""
        plan = request.operation
        step = plan.steps[index - 1]
        if step.kind != "set_weights" or error is not None or not plan.rollback_weights:
            return
        try:
            await backend.set_weights(plan.target, dict(plan.rollback_weights))
            problem = None
        except BackendError as exc:
            problem = str(exc) or type(exc).__name__
        now = self._clock.now()
        async with self._sessions.begin() as session:
            text = progress_late_step(plan, index, problem)
            await messaging.reply(session, request.id, channel, text, now)

    async def _do(self, step: Step, target: Target, backend: Backend) -> None:
        if step.kind == "deploy":
            assert step.colour is not None and step.version is not None
            await backend.deploy(target, step.colour, step.version, timeout=step.seconds or 600)
        elif step.kind == "set_weights":
            assert step.weights is not None
            await backend.set_weights(target, dict(step.weights))
        elif step.kind == "health_check" and step.url:
            await self._health.check(
                step.url, expected_status=step.expect_status, timeout=step.seconds
            )

    async def _failed(
        self, operation_id: int, plan: OperationPlan, index: int, error: str, backend: Backend
    ) -> None:
        reason = f"step {index} failed ({error})"
        if plan.rollback_weights:
            try:
                await backend.set_weights(plan.target, dict(plan.rollback_weights))
            except BackendError as exc:
                result = f"{reason}; the automatic rollback failed too: {exc}"
                await self._finisher.finish(operation_id, Outcome.FAILED, result, "failed")
                return
            await self._finisher.finish(
                operation_id,
                Outcome.ROLLED_BACK,
                result_rolled_back(plan, reason),
                "rolled_back",
                note=progress_rolled_back(plan, reason),
            )
            return
        try:
            now_state = await backend.state(plan.target)
        except BackendError:
            now_state = plan.from_state
        await self._finisher.finish(
            operation_id, Outcome.FAILED, result_failed(plan, index, error, now_state), "failed"
        )

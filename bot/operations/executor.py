"""Running an approved plan: re-check, lock, steps with progress, rollback, bake, recovery.

Each step is recorded in the database before it starts, so a crash leaves an operation
that says where it stopped; at the next start it is reported, never resumed. The bake
step does not hold a task for minutes: the operation waits in state `baking` with a due
time, the sweep finishes it, and the bake watch marks it `bake_failed` when a P0/P1
alert for the service arrives, after which the sweep rolls back (or proposes to).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.deploy.base import Backend, BackendError
from actions.deploy.health import HealthCheck
from bot.audit import trail
from bot.clock import Clock
from bot.operations import messaging
from bot.operations.backends import Backends
from bot.operations.models import OPERATION, ApprovalRequestRow, OperationRow
from bot.operations.preemption import supersede
from bot.operations.store import (
    BLOCKING_PRIORITIES,
    PREEMPTIBLE,
    add_request,
    firing_alerts,
    last_baseline,
    load_request,
    lock_holder,
    save_request,
    try_lock,
    unlock,
)
from commands.approval import (
    ApprovalRequest,
    Outcome,
    abort,
    finish,
    open_request,
    start,
)
from commands.config import DeployConfig
from commands.parsing import RollbackRequest
from commands.plan import OperationPlan, Refusal, Step, plan_operation, recheck
from commands.render import (
    describe_step,
    progress_finished,
    progress_interrupted,
    progress_late_step,
    progress_rolled_back,
    progress_started,
    progress_step_finished,
    progress_step_started,
    result_failed,
    result_rolled_back,
    result_succeeded,
)
from commands.targets import DeploymentState, Target

log = logging.getLogger(__name__)

SYSTEM = trail.SYSTEM
INTERRUPTED = "interrupted at step {index} by a restart; run `/rollback` or `/shift` to continue"


def subject(request_id: str) -> str:
    return f"approval:{request_id}"


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


class Executor:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: DeployConfig,
        clock: Clock,
        backends: Backends,
        health: HealthCheck,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._backends = backends
        self._health = health

    # --- start ---------------------------------------------------------------------

    async def run(self, request_id: str) -> None:
        """Re-check an Approved request and run it, or mark it Failed without running."""
        async with self._sessions() as session:
            loaded = await load_request(session, request_id)
        if loaded is None or loaded[1].status is not Outcome.APPROVED:
            return
        plan = loaded[1].operation
        target = plan.target
        problem: str | None = None
        current = plan.from_state
        try:
            backend = self._backends.for_target(target)
            current = await backend.state(target)
        except BackendError as exc:
            problem = f"could not read the state of {target.service}/{target.environment}: {exc}"
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found = await load_request(session, request_id, for_update=True)
            if found is None or found[1].status is not Outcome.APPROVED:
                return
            row, request = found
            # A rollback is the remedy for the very alerts that block other operations.
            blocking = [
                a.line
                for a in await firing_alerts(session, target.service)
                if a.priority in BLOCKING_PRIORITIES and plan.kind != "rollback"
            ]
            # A rollback takes the lock from a shift (running or baking); from another
            # rollback it does not: that one already returns the traffic, and this plan
            # was made from the state it is changing.
            holder = None
            if problem is None and plan.kind == "rollback":
                holder = await lock_holder(session, target, for_update=True)
            preempted = holder if holder is not None and holder.kind in PREEMPTIBLE else None
            locked = problem is None and (
                preempted is not None or await try_lock(session, target, request_id, now)
            )
            reason = problem or recheck(
                plan,
                current,
                busy=not locked,
                busy_with=holder.kind if holder is not None else None,
                blocking_alerts=blocking,
            )
            if reason is not None:
                if locked:
                    await unlock(session, target, request_id)
                request = abort(request, reason, now)
                await self._show(session, row, request, now)
                await messaging.reply(
                    session, request.id, row.channel, progress_finished(request), now
                )
                trail.record(
                    session,
                    at=now,
                    actor=SYSTEM,
                    action="operation.not_run",
                    subject=subject(request.id),
                    reason=reason,
                )
                return
            request = start(request, now)
            await self._show(session, row, request, now)
            if preempted is not None:
                await supersede(session, preempted, request, row.channel, self._config, now)
            operation = OperationRow(
                request_id=request.id,
                service=target.service,
                environment=target.environment,
                kind=plan.kind,
                status="running",
                step=0,
                plan=plan.to_dict(),
                started_at=now,
            )
            session.add(operation)
            await session.flush()
            operation_id = operation.id
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
                service=target.service,
                environment=target.environment,
            )
        await self._steps(operation_id, request, row.channel, backend)

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
        await self._finish(operation_id, Outcome.SUCCEEDED, result_succeeded(plan), "succeeded")

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
                await self._finish(operation_id, Outcome.FAILED, result, "failed")
                return
            await self._finish(
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
        await self._finish(
            operation_id, Outcome.FAILED, result_failed(plan, index, error, now_state), "failed"
        )

    async def _finish(
        self,
        operation_id: int,
        outcome: Outcome,
        result: str,
        status: str,
        *,
        note: str | None = None,
    ) -> ApprovalRequest | None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            operation = await session.get(OperationRow, operation_id, with_for_update=True)
            assert operation is not None
            if operation.status == "superseded":
                return None  # a rollback ended it first, and said so
            operation.status = status
            operation.finished_at = now
            found = await load_request(session, operation.request_id, for_update=True)
            assert found is not None
            row, request = found
            await unlock(session, request.target, request.id)
            if request.status is not Outcome.RUNNING:
                return None
            request = finish(request, outcome, result, now)
            await self._show(session, row, request, now)
            if note:
                await messaging.reply(session, request.id, row.channel, note, now)
            await messaging.reply(session, request.id, row.channel, progress_finished(request), now)
            trail.record(
                session,
                at=now,
                actor=SYSTEM,
                action="operation.finished",
                subject=subject(request.id),
                outcome=outcome.value,
                result=result,
                approvers=list(request.approved_by),
                requester=request.requester,
            )
            return request

    async def _show(
        self,
        session: AsyncSession,
        row: ApprovalRequestRow,
        request: ApprovalRequest,
        now: datetime,
    ) -> None:
        save_request(row, request, now)
        await messaging.update_request(session, request, row.channel, self._config, now)

    # --- bake ----------------------------------------------------------------------

    async def finish_bakes(self) -> None:
        """Baked long enough without a P0/P1 alert: the shift succeeded."""
        now = self._clock.now()
        async with self._sessions() as session:
            due = (
                await session.scalars(
                    select(OperationRow).where(
                        OperationRow.status == "baking", OperationRow.bake_until <= now
                    )
                )
            ).all()
            items = [(o.id, o.request_id, OperationPlan.from_dict(o.plan), o.step) for o in due]
        for operation_id, request_id, plan, index in items:
            step = plan.steps[index - 1]
            async with self._sessions.begin() as session:
                row = await session.get(ApprovalRequestRow, request_id)
                channel = row.channel if row else ""
                text = progress_step_finished(plan, index, timedelta(seconds=step.seconds or 0))
                await messaging.reply(session, request_id, channel, text, now)
            await self._finish(operation_id, Outcome.SUCCEEDED, result_succeeded(plan), "succeeded")

    async def handle_bake_alerts(self) -> None:
        """Operations the bake watch or the bake analysis marked: roll back (`auto`) or
        propose a rollback."""
        async with self._sessions() as session:
            marked = (
                await session.scalars(
                    select(OperationRow).where(OperationRow.status == "bake_failed")
                )
            ).all()
            items = [
                (o.id, OperationPlan.from_dict(o.plan), o.bake_alert or "", o.bake_failure)
                for o in marked
            ]
        for operation_id, plan, alert, failure in items:
            target = plan.target
            env = self._config.services[target.service].environments[target.environment]
            # The bake analysis says why itself; an alert is named by the bake watch.
            reason = failure or f"{alert} fired during the bake"
            if env.bake_policy == "propose":
                await self._finish(
                    operation_id,
                    Outcome.FAILED,
                    f"{reason}; a one-click rollback request was posted",
                    "failed",
                )
                await self.propose_rollback(target, reason)
                continue
            try:
                await self._backends.for_target(target).set_weights(
                    target, dict(plan.rollback_weights or {})
                )
            except BackendError as exc:
                await self._finish(
                    operation_id,
                    Outcome.FAILED,
                    f"{reason}; the automatic rollback failed: {exc}",
                    "failed",
                )
                continue
            await self._finish(
                operation_id,
                Outcome.ROLLED_BACK,
                result_rolled_back(plan, reason),
                "rolled_back",
                note=progress_rolled_back(plan, reason),
            )

    async def propose_rollback(self, target: Target, reason: str) -> None:
        """A rollback request that one approver's reaction runs."""
        try:
            state = await self._backends.for_target(target).state(target)
        except BackendError as exc:
            log.warning("cannot propose a rollback for %s: %s", target, exc)
            return
        now = self._clock.now()
        async with self._sessions.begin() as session:
            baseline = await last_baseline(session, target)
            plan = plan_operation(RollbackRequest(target), state, self._config, baseline=baseline)
            if isinstance(plan, Refusal):
                return
            request = replace(
                open_request(new_request_id(), plan, SYSTEM, self._config, now), required=1
            )
            channel = self._config.services[target.service].channel
            await add_request(session, request, channel, now)
            await messaging.post_request(session, request, channel, self._config, now)
            trail.record(
                session,
                at=now,
                actor=SYSTEM,
                action="operation.requested",
                subject=subject(request.id),
                reason=reason,
                command="rollback",
            )

    # --- restart -------------------------------------------------------------------

    async def recover(self) -> None:
        """Report operations a crash cut off; refuse approvals that never started."""
        async with self._sessions() as session:
            running = (
                await session.scalars(select(OperationRow).where(OperationRow.status == "running"))
            ).all()
            items = [(o.id, OperationPlan.from_dict(o.plan), o.step) for o in running]
            approved = (
                await session.scalars(
                    select(ApprovalRequestRow.id).where(
                        ApprovalRequestRow.status == Outcome.APPROVED.value,
                        ApprovalRequestRow.kind == OPERATION,
                    )
                )
            ).all()
        for operation_id, plan, index in items:
            try:
                state: DeploymentState = await self._backends.for_target(plan.target).state(
                    plan.target
                )
            except BackendError:
                state = plan.from_state
            index = max(index, 1)
            note = progress_interrupted(plan, index, state)
            await self._finish(
                operation_id,
                Outcome.FAILED,
                INTERRUPTED.format(index=index),
                "interrupted",
                note=note,
            )
        for request_id in approved:
            await self._abort(request_id, "the bot restarted before it ran; request it again")

    async def _abort(self, request_id: str, reason: str) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found = await load_request(session, request_id, for_update=True)
            if found is None or found[1].status is not Outcome.APPROVED:
                return
            row, request = found
            request = abort(request, reason, now)
            await self._show(session, row, request, now)

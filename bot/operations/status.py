"""Gathering what `/deploy status` shows: the platform's state, the operation holding the
target's lock, the alerts firing for the service and the last operations with their
approvers. commands/status.py renders it; only the asker sees the answer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.deploy.base import BackendError
from bot.approvals.models import ApprovalRequestRow
from bot.operations.backends import Backends
from bot.operations.models import OperationRow
from bot.operations.store import firing_alerts, last_baseline, lock_holder
from commands.approval import ApprovalRequest
from commands.plan import OperationPlan, resolve_baseline
from commands.status import RECENT, ActiveOperation, PastOperation, TargetStatus
from commands.targets import DeploymentState, Target


async def target_status(
    sessions: async_sessionmaker[AsyncSession], backends: Backends, target: Target
) -> TargetStatus:
    state: DeploymentState | None = None
    error: str | None = None
    # Read before the session opens: the dryrun backend keeps its state in the database
    # too, and an embedded SQLite has one connection.
    try:
        state = await backends.for_target(target).state(target)
    except BackendError as exc:
        error = str(exc) or type(exc).__name__
    async with sessions() as session:
        live = None
        if state is not None:
            live = resolve_baseline(state, await last_baseline(session, target)).colour
        return TargetStatus(
            target=target,
            state=state,
            state_error=error,
            live=live,
            active=await _active(session, target),
            alerts=tuple(a.line for a in await firing_alerts(session, target.service)),
            recent=await _recent(session, target),
        )


async def _request(session: AsyncSession, request_id: str) -> ApprovalRequest | None:
    row = await session.get(ApprovalRequestRow, request_id)
    return ApprovalRequest.from_dict(row.data) if row is not None else None


async def _active(session: AsyncSession, target: Target) -> ActiveOperation | None:
    holder = await lock_holder(session, target)
    if holder is None:
        return None
    request = await _request(session, holder.request_id)
    return ActiveOperation(
        plan=OperationPlan.from_dict(holder.plan),
        status=holder.status,
        step=holder.step,
        requester=request.requester if request else "",
        approvers=request.approved_by if request else (),
        bake_until=holder.bake_until,
    )


async def _recent(session: AsyncSession, target: Target) -> tuple[PastOperation, ...]:
    rows = (
        await session.scalars(
            select(OperationRow)
            .where(
                OperationRow.service == target.service,
                OperationRow.environment == target.environment,
            )
            .order_by(OperationRow.id.desc())
            .limit(RECENT)
        )
    ).all()
    found = []
    for row in rows:
        request = await _request(session, row.request_id)
        if request is None:
            continue
        found.append(
            PastOperation(
                plan=OperationPlan.from_dict(row.plan),
                outcome=request.status.value,
                requester=request.requester,
                approvers=request.approved_by,
                started_at=row.started_at,
            )
        )
    return tuple(found)

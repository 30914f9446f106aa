"""The approval boundary of runbook steps that change things.

Steps whose action changes the system (k8s.restart, k8s.scale, alertmanager.silence) or
that the runbook marks `requires_approval` must be approved by reaction before they run.
That flow belongs to the operations feature; this module is the seam. The use case
validates everything first (template values, the parameter schema, the scale maximum),
then hands a complete `StepApprovalRequest` to `StepApprovals.request` in the click's
transaction, and runs nothing itself.

To connect the reaction flow, implement `StepApprovals` so that `request` stores an
approval request (its own table, approvers from the config) and posts it; when the quorum
is reached, call `RunbookSteps.run_approved(request, approved_by=...)`, which re-checks
the runbook version and the parameters and only then runs the executor.

`ApprovalNotConnected` is this build's implementation: it says so in the thread and
records the request in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.runbooks.render import escape
from bot import audit
from bot.alert_groups import reply
from bot.runbooks import messages as m
from bot.storage.models import AlertGroup


@dataclass(frozen=True)
class StepApprovalRequest:
    """Everything needed to run the step later, without trusting the click again."""

    alert_group_id: int
    channel: str
    runbook_id: str
    runbook_version: str
    step_id: str
    step_title: str
    action_type: str
    # The validated, filled-in parameters (JSON-ready), exactly what will run.
    params: dict[str, Any]
    requested_by: str
    requested_at: datetime
    # Why it needs approval: the action changes things, or the runbook requires it.
    changes_things: bool
    requires_approval: bool
    # The thread to post the approval request in.
    thread_key: str


class StepApprovals(Protocol):
    async def request(
        self, session: AsyncSession, group: AlertGroup, request: StepApprovalRequest
    ) -> None:
        """Record and announce the request inside the click's transaction; run nothing."""
        ...


def describe_params(params: dict[str, Any]) -> str:
    return ", ".join(f"`{escape(f'{k}={v}')}`" for k, v in params.items()) or "no parameters"


class ApprovalNotConnected:
    """Says clearly in the thread that the step needs approval and that nothing ran."""

    async def request(
        self, session: AsyncSession, group: AlertGroup, request: StepApprovalRequest
    ) -> None:
        why = (
            m.WHY_CHANGES.format(type=request.action_type)
            if request.changes_things
            else m.WHY_REQUIRED
        )
        text = m.NEEDS_APPROVAL.format(
            user=request.requested_by,
            step=escape(request.step_title),
            type=request.action_type,
            params=describe_params(request.params),
            why=why,
        )
        await reply(session, group, text, request.requested_at)
        audit.record(
            session,
            at=request.requested_at,
            actor=request.requested_by,
            action="runbook.step.approval_requested",
            subject=f"alert-group:{group.id}",
            runbook=request.runbook_id,
            version=request.runbook_version,
            step=request.step_id,
            type=request.action_type,
            params=request.params,
            approval_flow="not connected",
        )

"""A finished operation as plain data: what reached the platform, who asked and approved.

Built when an operation ends (bot/operations/finishing.py) and handed to whoever listens
(PagerDuty's change events); rendered here so that every listener says it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from commands.approval import ApprovalRequest
from commands.plan import describe_state
from commands.render import plan_command


@dataclass(frozen=True)
class FinishedChange:
    request_id: str
    service: str
    environment: str
    kind: str  # deploy | shift | rollback
    command: str
    outcome: str  # the outcome word: Succeeded, Failed, Rolled back
    result: str
    requester: str
    approvers: tuple[str, ...]
    channel: str
    started_at: datetime | None
    finished_at: datetime
    before: str
    planned: str


def finished_change(request: ApprovalRequest, channel: str, now: datetime) -> FinishedChange:
    plan = request.operation
    return FinishedChange(
        request_id=request.id,
        service=plan.target.service,
        environment=plan.target.environment,
        kind=plan.kind,
        command=plan_command(plan),
        outcome=request.status.value,
        result=request.result or "",
        requester=request.requester,
        approvers=request.approved_by,
        channel=channel,
        started_at=request.started_at,
        finished_at=now,
        before=describe_state(plan.from_state),
        planned=describe_state(plan.to_state),
    )


def change_summary(change: FinishedChange) -> str:
    """One line, as PagerDuty's "recent changes" list shows it."""
    return f"{change.command}: {change.outcome} ({change.service}/{change.environment})"

"""A runbook step's approval request as data: what will run, why it needs approval, and
how the request reads in the alert's thread.

Kept apart from the reaction flow (bot/runbooks/approvals.py) because the use cases
(bot/runbooks/steps.py) build requests and the flow stores and renders them; neither
needs the other's machinery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.runbooks import messages as m
from alerts.silences import matchers_text
from alerts.slack_text import escape
from bot.storage.models import AlertGroup
from commands import messages as cm
from commands.approval import OPEN, Approval, VoteResult
from commands.config import DeployConfig
from commands.render import clip, how_to_vote, status_fields


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
    # alertmanager.silence: the matchers it will create (the group's shared labels), and
    # why they reach beyond the group when they do; approving confirms exactly those.
    silence_matchers: tuple[str, ...] = ()
    broader: str = ""


class StepApprovals(Protocol):
    async def request(
        self, session: AsyncSession, group: AlertGroup, request: StepApprovalRequest
    ) -> None:
        """Record and announce the request inside the click's transaction; run nothing."""
        ...


def describe_params(params: dict[str, Any]) -> str:
    return ", ".join(f"`{escape(f'{k}={v}')}`" for k, v in params.items()) or "no parameters"


def why_text(request: StepApprovalRequest) -> str:
    if request.changes_things:
        return m.WHY_CHANGES.format(type=request.action_type)
    return m.WHY_REQUIRED


# --- The stored request ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StepApproval(Approval):
    """An approval request (kind `runbook_step`) for one run of one runbook step."""

    step: StepApprovalRequest

    def to_dict(self) -> dict[str, Any]:
        return _STEP_APPROVAL.dump_python(self, mode="json")  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepApproval:
        return _STEP_APPROVAL.validate_python(dict(data))


_STEP_APPROVAL = TypeAdapter(StepApproval)


def render_step_approval(
    approval: StepApproval, deploy: DeployConfig, approvers: list[str]
) -> dict[str, Any]:
    """The approval message in the alert's thread: {"text": fallback, "blocks": [...]}."""
    step, status = approval.step, approval.status
    title = m.APPROVAL_TITLE.format(step=step.step_title, type=step.action_type)
    header = cm.HEADER.format(icon=cm.OUTCOME_ICON[status], outcome=status.value, title=title)
    intro = m.APPROVAL_INTRO.format(
        user=approval.requester,
        step=escape(step.step_title),
        runbook=escape(step.runbook_id),
        type=step.action_type,
        params=describe_params(step.params),
        why=why_text(step),
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(header, 150)}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(intro + scope_text(step), 3000)},
        },
        status_fields(approval),
    ]
    if approval.result:
        result = cm.RESULT.format(result=approval.result)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(result, 3000)}})
    if status in OPEN:
        hint = how_to_vote(approval, deploy, approvers, nobody=m.NO_STEP_APPROVERS)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": hint}]})
    fallback = m.APPROVAL_FALLBACK.format(
        outcome=status.value,
        step=escape(step.step_title),
        type=step.action_type,
        params=describe_params(step.params),
    )
    return {"text": clip(fallback, 3000), "blocks": blocks}


STEP_AUDIT: Mapping[VoteResult, str] = {
    VoteResult.COUNTED: "runbook.step.approval",
    VoteResult.APPROVED: "runbook.step.approved",
    VoteResult.WITHDRAWN: "runbook.step.approval_withdrawn",
    VoteResult.REJECTED: "runbook.step.rejected",
    VoteResult.EXPIRED: "runbook.step.approval_expired",
}

RunApproved = Callable[[StepApprovalRequest, str], Awaitable[tuple[bool, str]]]
"""Runs an approved step (RunbookSteps.run_approved): (ran and succeeded, why not run)."""


def scope_text(step: StepApprovalRequest) -> str:
    """For a silence: what it will match, and a warning when it reaches beyond the group."""
    if not step.silence_matchers:
        return ""
    text = m.SILENCE_SCOPE.format(matchers=matchers_text(step.silence_matchers))
    if step.broader:
        text += m.SILENCE_BROADER.format(why=escape(step.broader))
    return text

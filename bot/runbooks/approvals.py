"""Approval by reaction for runbook steps that change things.

Steps whose action changes the system (k8s.restart, k8s.scale, alertmanager.silence) or
that the runbook marks `requires_approval` must be approved before they run. They use the
operations feature's approval flow, not a copy of it: the use case (bot/runbooks/steps.py)
validates everything first (template values, the parameter schema, the scale maximum),
then hands a complete `StepApprovalRequest` to `StepApprovals.request` in the click's
transaction, and runs nothing itself.

`ReactionStepApprovals` is the implementation the Service wires in. `request` stores an
approval request of kind `runbook_step` in the operations' `approval_requests` table and
posts it in the alert's thread through the outbox. From there the shared flow applies
(bot/operations/requests.py with the pure rules of commands/approval.py): the same approve
and reject reactions, the requester's own approval never counts, non-approvers are told
once, one rejection ends it, removing an approval withdraws it, nothing counts after
`deploy.request_ttl`, a redelivered reaction counts once. On quorum, `approved` calls
`RunbookSteps.run_approved`, which re-checks the runbook version and the parameters and
only then runs the executor; the request then shows Succeeded or Failed.

Approvers are `runbooks.approvers`, else `deploy.approvers`; a step needs
`runbooks.approvals` approvals (default 1).

`ApprovalNotConnected` remains for a runbook feature built without the operations feature
(nothing in `chatops serve` does that): it says in the thread that nothing ran.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.runbooks import messages as m
from alerts.slack_text import escape
from bot.alerts.groups import reply
from bot.approvals.ids import message_key, new_request_id, subject
from bot.approvals.models import RUNBOOK_STEP, ApprovalRequestRow
from bot.approvals.store import PRIORITY, load_row, save_request
from bot.audit import trail
from bot.clock import Clock
from bot.runbooks.approval_request import (
    STEP_AUDIT,
    RunApproved,
    StepApproval,
    StepApprovalRequest,
    describe_params,
    render_step_approval,
    why_text,
)
from bot.runbooks.config import RunbooksConfig
from bot.runbooks.counts import RunbookCounts
from bot.runbooks.store import alert_message
from bot.slack.outbox_queue import enqueue
from bot.slack.usergroups import UserGroupDirectory
from bot.storage.models import AlertGroup
from commands import messages as cm
from commands.approval import (
    Approval,
    Outcome,
    VoteResult,
    finish,
    is_member,
    start,
)
from commands.config import DeployConfig

log = logging.getLogger(__name__)


class ReactionStepApprovals:
    """`StepApprovals` for the Service, and the `runbook_step` kind of the reaction flow."""

    kind: str = RUNBOOK_STEP
    audit: Mapping[VoteResult, str] = STEP_AUDIT

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        config: RunbooksConfig,
        deploy: DeployConfig,
        directory: UserGroupDirectory,
        counts: RunbookCounts,
    ) -> None:
        self._sessions = sessions
        self._counts = counts
        self._clock = clock
        self._config = config
        self._deploy = deploy
        self._directory = directory
        self._run: RunApproved | None = None

    def connect(self, run: RunApproved) -> None:
        """What runs a step once approved (set by the runbook feature)."""
        self._run = run

    @property
    def approvers(self) -> list[str]:
        if self._config.approvers is not None:
            return self._config.approvers
        return self._deploy.approvers

    # --- StepApprovals -------------------------------------------------------------

    async def request(
        self, session: AsyncSession, group: AlertGroup, request: StepApprovalRequest
    ) -> None:
        now = request.requested_at
        if await self._open_for(session, request) is not None:
            return  # one request per step at a time: the open one is in the thread
        self._counts.requested(session, request.action_type)
        approval = StepApproval(
            id=new_request_id(),
            requester=request.requested_by,
            required=self._config.approvals,
            created_at=now,
            expires_at=now + self._deploy.request_ttl,
            step=request,
        )
        session.add(
            ApprovalRequestRow(
                id=approval.id,
                kind=RUNBOOK_STEP,
                service=request.runbook_id[:64],
                environment=request.step_id[:64],
                channel=group.channel,
                status=approval.status.value,
                data=approval.to_dict(),
                created_at=now,
                expires_at=approval.expires_at,
                updated_at=now,
            )
        )
        payload = render_step_approval(approval, self._deploy, self.approvers)
        parent = await alert_message(session, group.id)
        if parent is not None:
            payload["thread_ts"] = parent.ts
        await enqueue(
            session,
            op="post",
            channel=group.channel,
            payload=payload,
            message_key=message_key(approval.id),
            priority=PRIORITY,
            now=now,
        )
        trail.record(
            session,
            at=now,
            actor=request.requested_by,
            action="runbook.step.approval_requested",
            subject=f"alert-group:{group.id}",
            request=approval.id,
            runbook=request.runbook_id,
            version=request.runbook_version,
            step=request.step_id,
            type=request.action_type,
            params=request.params,
            required=approval.required,
        )

    async def _open_for(self, session: AsyncSession, request: StepApprovalRequest) -> str | None:
        rows = (
            await session.scalars(
                select(ApprovalRequestRow).where(
                    ApprovalRequestRow.kind == RUNBOOK_STEP,
                    ApprovalRequestRow.service == request.runbook_id[:64],
                    ApprovalRequestRow.environment == request.step_id[:64],
                    ApprovalRequestRow.status.in_(
                        [Outcome.PENDING.value, Outcome.APPROVED.value, Outcome.RUNNING.value]
                    ),
                )
            )
        ).all()
        for row in rows:
            step = StepApproval.from_dict(row.data).step
            if (
                step.alert_group_id == request.alert_group_id
                and row.expires_at > request.requested_at
            ):
                return row.id
        return None

    # --- ApprovalKind --------------------------------------------------------------

    def load(self, data: Mapping[str, Any]) -> Approval:
        return StepApproval.from_dict(data)

    async def may_approve(self, request: Approval, user: str) -> bool:
        principals = self.approvers
        groups = await self._directory.groups_of(user, {p for p in principals if p[:1] == "S"})
        return is_member(principals, user, groups)

    def not_approver_text(self, request: Approval) -> str:
        return m.NOT_STEP_APPROVER

    async def show(
        self, session: AsyncSession, row: ApprovalRequestRow, request: Approval, now: datetime
    ) -> None:
        assert isinstance(request, StepApproval)
        before = row.status
        save_request(row, request, now)
        self._counts.moved(session, before, request, now)
        await enqueue(
            session,
            op="update",
            channel=row.channel,
            payload=render_step_approval(request, self._deploy, self.approvers),
            message_key=message_key(request.id),
            priority=PRIORITY,
            now=now,
        )

    async def approved(self, request_id: str) -> None:
        """Running, then `run_approved` (which re-checks), then Succeeded or Failed."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found = await self._load(session, request_id)
            if found is None or found[1].status is not Outcome.APPROVED:
                return
            row, approval = found
            approval = start(approval, now)
            await self.show(session, row, approval, now)
            trail.record(
                session,
                at=now,
                actor=trail.SYSTEM,
                action="runbook.step.approval_started",
                subject=subject(request_id),
                requester=approval.requester,
                approvers=list(approval.approved_by),
                step=approval.step.step_id,
            )
        if self._run is None:
            ok, not_run = False, m.NOT_CONNECTED
        else:
            try:
                ok, not_run = await self._run(approval.step, approval.approved_by[-1])
            except Exception as exc:  # never leave the request Running
                log.exception("running approved step %s failed", request_id)
                ok, not_run = False, f"unexpected error ({type(exc).__name__})"
        await self._finish(request_id, ok, not_run)

    async def _finish(self, request_id: str, ok: bool, not_run: str) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found = await self._load(session, request_id)
            if found is None or found[1].status is not Outcome.RUNNING:
                return
            row, approval = found
            step = approval.step
            if ok:
                result = m.STEP_SUCCEEDED.format(type=step.action_type)
            elif not_run:
                result = cm.NOT_RUN.format(reason=not_run)
                text = m.STEP_NOT_RUN.format(step=escape(step.step_title), reason=not_run)
                await reply_in_thread(session, row, step, text, now)
            else:
                result = m.STEP_FAILED.format(type=step.action_type)
            approval = finish(approval, Outcome.SUCCEEDED if ok else Outcome.FAILED, result, now)
            await self.show(session, row, approval, now)
            trail.record(
                session,
                at=now,
                actor=trail.SYSTEM,
                action="runbook.step.approval_finished",
                subject=subject(request_id),
                outcome=approval.status.value,
                result=result,
                requester=approval.requester,
                approvers=list(approval.approved_by),
            )

    async def recover(self) -> None:
        """Approved or running when the bot stopped: Failed, never resumed."""
        async with self._sessions() as session:
            cut_off = (
                await session.scalars(
                    select(ApprovalRequestRow.id).where(
                        ApprovalRequestRow.kind == RUNBOOK_STEP,
                        ApprovalRequestRow.status.in_(
                            [Outcome.APPROVED.value, Outcome.RUNNING.value]
                        ),
                    )
                )
            ).all()
        for request_id in cut_off:
            now = self._clock.now()
            async with self._sessions.begin() as session:
                found = await self._load(session, request_id)
                if found is None:
                    continue
                row, approval = found
                if approval.status is Outcome.APPROVED:
                    approval = start(approval, now)
                approval = finish(approval, Outcome.FAILED, m.STEP_INTERRUPTED, now)
                await self.show(session, row, approval, now)
                trail.record(
                    session,
                    at=now,
                    actor=trail.SYSTEM,
                    action="runbook.step.approval_interrupted",
                    subject=subject(request_id),
                )

    async def _load(
        self, session: AsyncSession, request_id: str
    ) -> tuple[ApprovalRequestRow, StepApproval] | None:
        row = await load_row(session, request_id, for_update=True)
        if row is None or row.kind != RUNBOOK_STEP:
            return None
        return row, StepApproval.from_dict(row.data)


async def reply_in_thread(
    session: AsyncSession,
    row: ApprovalRequestRow,
    step: StepApprovalRequest,
    text: str,
    now: datetime,
) -> None:
    await enqueue(
        session,
        op="reply",
        channel=row.channel,
        payload={"text": text},
        message_key=step.thread_key,
        priority=PRIORITY,
        now=now,
    )


class ApprovalNotConnected:
    """For a runbook feature without the operations feature (not `chatops serve`): says
    clearly in the thread that the step needs approval and that nothing ran."""

    async def request(
        self, session: AsyncSession, group: AlertGroup, request: StepApprovalRequest
    ) -> None:
        text = m.NEEDS_APPROVAL_NOT_CONNECTED.format(
            user=request.requested_by,
            step=escape(request.step_title),
            type=request.action_type,
            params=describe_params(request.params),
            why=why_text(request),
        )
        await reply(session, group, text, request.requested_at)
        trail.record(
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

"""What the shared reaction flow asks of a kind of approval request, and what a feature
whose requests use that flow is given.

One reaction listener, one vote function (commands/approval.py) and one expiry sweep serve
every kind of approval request; a kind supplies what differs: who may approve, how the
message looks, what the audit events are called and what runs on quorum. Operations
(/deploy, /shift, /rollback) are the kind `operation` (bot/operations/kinds.py); the
runbook feature registers `runbook_step` (bot/runbooks/approvals.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.approvals.models import ApprovalRequestRow
from bot.slack.usergroups import UserGroupDirectory
from commands.approval import Approval, VoteResult
from commands.config import DeployConfig


class ApprovalKind(Protocol):
    kind: str
    """The `approval_requests.kind` value of the requests this handles."""

    audit: Mapping[VoteResult, str]
    """The audit action per vote result (results not in it are not audited)."""

    def load(self, data: Mapping[str, Any]) -> Approval:
        """The stored plain data back as the request."""
        ...

    async def may_approve(self, request: Approval, user: str) -> bool: ...

    def not_approver_text(self, request: Approval) -> str: ...

    async def show(
        self, session: AsyncSession, row: ApprovalRequestRow, request: Approval, now: datetime
    ) -> None:
        """Store `request` in `row` and queue the message's update, in the caller's session."""
        ...

    async def approved(self, request_id: str) -> None:
        """Quorum reached: re-check and run (or mark it Failed without running)."""
        ...

    async def recover(self) -> None:
        """At start: settle requests a stop cut off (approved or running, never resumed)."""
        ...


class ApprovalFlow(Protocol):
    """The reaction flow as another feature's kind joins it (the operations feature runs
    it): the approval settings all requests share (`deploy.approvers`, `request_ttl`), the
    cached Slack user-group directory approvers are resolved with, and registration."""

    @property
    def config(self) -> DeployConfig: ...

    @property
    def directory(self) -> UserGroupDirectory: ...

    def register_kind(self, kind: ApprovalKind) -> None:
        """`kind`'s requests get the same reactions, expiry sweep and restart recovery."""
        ...

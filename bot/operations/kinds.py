"""Operations (/deploy, /shift, /rollback) as the approval requests of kind `operation`
(what the shared reaction flow asks of a kind: bot/approvals/kinds.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.approvals.models import OPERATION, ApprovalRequestRow
from bot.approvals.store import save_request
from bot.operations import messaging
from bot.slack.usergroups import UserGroupDirectory
from commands.answers import TOLD, decided
from commands.approval import (
    Approval,
    ApprovalRequest,
    VoteResult,
    groups_to_resolve,
    is_approver,
)
from commands.config import DeployConfig
from commands.render import not_approver

OPERATION_AUDIT = {
    VoteResult.COUNTED: "operation.approval",
    VoteResult.APPROVED: "operation.approved",
    VoteResult.WITHDRAWN: "operation.approval_withdrawn",
    VoteResult.REJECTED: "operation.rejected",
    VoteResult.EXPIRED: "operation.expired",
}


class OperationKind:
    """Approval requests for operation plans."""

    kind: str = OPERATION
    audit: Mapping[VoteResult, str] = OPERATION_AUDIT

    def __init__(
        self,
        config: DeployConfig,
        directory: UserGroupDirectory,
        run: Callable[[str], Awaitable[None]],
    ) -> None:
        self._config = config
        self._directory = directory
        self._run = run

    def load(self, data: Mapping[str, Any]) -> Approval:
        return ApprovalRequest.from_dict(data)

    async def may_approve(self, request: Approval, user: str) -> bool:
        assert isinstance(request, ApprovalRequest)
        target = request.target
        groups = await self._directory.groups_of(user, groups_to_resolve(self._config, target))
        return is_approver(self._config, target, user, groups)

    def not_approver_text(self, request: Approval) -> str:
        assert isinstance(request, ApprovalRequest)
        return not_approver(request)

    async def show(
        self, session: AsyncSession, row: ApprovalRequestRow, request: Approval, now: datetime
    ) -> None:
        assert isinstance(request, ApprovalRequest)
        was = row.status
        save_request(row, request, now)
        await messaging.update_request(session, request, row.channel, self._config, now)
        if was != request.status.value and request.status in TOLD:
            if request.asked_in and request.asked_in != row.channel:
                text = decided(request, row.channel)
                await messaging.tell(session, request.asked_in, request.requester, text, now)

    async def approved(self, request_id: str) -> None:
        await self._run(request_id)

    async def recover(self) -> None:
        """The executor's own recovery covers operations (Operations.start runs it)."""

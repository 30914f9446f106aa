"""After a restart: operations a crash cut off are reported, never resumed, and requests
approved but not started are refused (the state they were approved against may be gone)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.deploy.base import BackendError
from bot.approvals.models import OPERATION, ApprovalRequestRow
from bot.operations.backends import Backends
from bot.operations.finishing import Finisher
from bot.operations.models import OperationRow
from commands.approval import Outcome
from commands.plan import OperationPlan
from commands.progress import progress_interrupted
from commands.targets import DeploymentState

INTERRUPTED = "interrupted at step {index} by a restart; run `/rollback` or `/shift` to continue"
NOT_STARTED = "the bot restarted before it ran; request it again"


@dataclass(frozen=True)
class Recovery:
    sessions: async_sessionmaker[AsyncSession]
    backends: Backends
    finisher: Finisher

    async def recover(self) -> None:
        """Report operations a crash cut off; refuse approvals that never started."""
        async with self.sessions() as session:
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
            await self._interrupted(operation_id, plan, max(index, 1))
        for request_id in approved:
            await self.finisher.abort_approved(request_id, NOT_STARTED)

    async def _interrupted(self, operation_id: int, plan: OperationPlan, index: int) -> None:
        try:
            state: DeploymentState = await self.backends.for_target(plan.target).state(plan.target)
        except BackendError:
            state = plan.from_state
        await self.finisher.finish(
            operation_id,
            Outcome.FAILED,
            INTERRUPTED.format(index=index),
            "interrupted",
            note=progress_interrupted(plan, index, state),
        )

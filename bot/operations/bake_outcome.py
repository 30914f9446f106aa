"""How a bake ends: quiet long enough, the shift succeeded; marked failed (by the bake
watch's P0/P1 alert or by the bake analysis), the traffic goes back (`bake_policy: auto`)
or a one-click rollback request is posted (`propose`). The sweep runs both."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.deploy.base import BackendError
from bot.approvals.ids import SYSTEM, new_request_id
from bot.approvals.models import ApprovalRequestRow
from bot.clock import Clock
from bot.operations import messaging
from bot.operations.backends import Backends
from bot.operations.finishing import Finisher
from bot.operations.models import OperationRow
from bot.operations.opening import plan_request, post_new_request
from commands.approval import Outcome, open_request
from commands.config import DeployConfig
from commands.parsing import RollbackRequest
from commands.plan import OperationPlan, Refusal
from commands.progress import (
    progress_rolled_back,
    progress_step_finished,
    result_rolled_back,
    result_succeeded,
)
from commands.targets import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BakeOutcome:
    sessions: async_sessionmaker[AsyncSession]
    config: DeployConfig
    clock: Clock
    backends: Backends
    finisher: Finisher

    async def finish_bakes(self) -> None:
        """Baked long enough without a P0/P1 alert: the shift succeeded."""
        now = self.clock.now()
        async with self.sessions() as session:
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
            async with self.sessions.begin() as session:
                row = await session.get(ApprovalRequestRow, request_id)
                channel = row.channel if row else ""
                text = progress_step_finished(plan, index, timedelta(seconds=step.seconds or 0))
                await messaging.reply(session, request_id, channel, text, now)
            await self.finisher.finish(
                operation_id, Outcome.SUCCEEDED, result_succeeded(plan), "succeeded"
            )

    async def handle_bake_alerts(self) -> None:
        """Operations the bake watch or the bake analysis marked: roll back (`auto`) or
        propose a rollback."""
        async with self.sessions() as session:
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
            env = self.config.services[target.service].environments[target.environment]
            # The bake analysis says why itself; an alert is named by the bake watch.
            reason = failure or f"{alert} fired during the bake"
            if env.bake_policy == "propose":
                await self.finisher.finish(
                    operation_id,
                    Outcome.FAILED,
                    f"{reason}; a one-click rollback request was posted",
                    "failed",
                )
                await self.propose_rollback(target, reason)
            else:
                await self._roll_back(operation_id, plan, reason)

    async def _roll_back(self, operation_id: int, plan: OperationPlan, reason: str) -> None:
        target = plan.target
        try:
            await self.backends.for_target(target).set_weights(
                target, dict(plan.rollback_weights or {})
            )
        except BackendError as exc:
            await self.finisher.finish(
                operation_id,
                Outcome.FAILED,
                f"{reason}; the automatic rollback failed: {exc}",
                "failed",
            )
            return
        await self.finisher.finish(
            operation_id,
            Outcome.ROLLED_BACK,
            result_rolled_back(plan, reason),
            "rolled_back",
            note=progress_rolled_back(plan, reason),
        )

    async def propose_rollback(self, target: Target, reason: str) -> None:
        """A rollback request that one approver's reaction runs."""
        try:
            plan = await plan_request(
                RollbackRequest(target), self.backends, self.sessions, self.config
            )
        except BackendError as exc:
            log.warning("cannot propose a rollback for %s: %s", target, exc)
            return
        if isinstance(plan, Refusal):
            return
        now = self.clock.now()
        request = open_request(new_request_id(), plan, SYSTEM, self.config, now)
        request = replace(request, required=1)
        async with self.sessions.begin() as session:
            await post_new_request(
                session, request, self.config, now, actor=SYSTEM, reason=reason, command="rollback"
            )

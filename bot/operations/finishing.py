"""How an operation ends: its request shows the outcome, the lock is released, the thread
and the audit trail say so.

Every way an operation ends (its steps, a bake, a restart) ends through here, so an
operation a rollback superseded is never finished twice and the lock is always freed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.approvals.ids import SYSTEM, subject
from bot.approvals.models import ApprovalRequestRow
from bot.approvals.store import save_request
from bot.audit import trail
from bot.clock import Clock
from bot.operations import messaging
from bot.operations.changes import ChangeListener, no_listener
from bot.operations.models import OperationRow
from bot.operations.store import load_request, unlock
from commands.approval import ApprovalRequest, Outcome, abort, finish
from commands.changes import finished_change
from commands.config import DeployConfig
from commands.progress import progress_finished


class Finisher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: DeployConfig,
        clock: Clock,
        on_change: ChangeListener = no_listener,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._on_change = on_change

    async def finish(
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
            await self.show(session, row, request, now)
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
            await self._on_change(session, finished_change(request, row.channel, now))
            return request

    async def abort_approved(self, request_id: str, reason: str) -> None:
        """An Approved request that will not run after all ends Failed with `reason`."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found = await load_request(session, request_id, for_update=True)
            if found is None or found[1].status is not Outcome.APPROVED:
                return
            row, request = found
            request = abort(request, reason, now)
            await self.show(session, row, request, now)

    async def show(
        self,
        session: AsyncSession,
        row: ApprovalRequestRow,
        request: ApprovalRequest,
        now: datetime,
    ) -> None:
        """Store the request's new state and update its approval message."""
        save_request(row, request, now)
        await messaging.update_request(session, request, row.channel, self._config, now)

"""A rollback preempts a running shift: the lock changes hands in the database.

An approved `/rollback` is what an incident needs, so it does not wait for a shift or its
bake to end. In the rollback's own transaction, with the target's lock row and the
shift's operation row locked (PostgreSQL; SQLite has one writer anyway), the shift is
marked `superseded`, its request ends `Failed` with a note naming the rollback, and the
lock passes to the rollback. Whichever replica runs the shift notices at its next step,
and its sweep no longer finishes the bake. A rollback in flight is never preempted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.approvals.ids import message_key
from bot.approvals.store import save_request
from bot.audit import trail
from bot.operations import messaging
from bot.operations.models import OperationRow
from bot.operations.store import hand_over_lock, load_request
from commands.approval import ApprovalRequest, Outcome, finish
from commands.config import DeployConfig
from commands.progress import (
    progress_finished,
    progress_preempting,
    progress_superseded,
    result_superseded,
)


async def supersede(
    session: AsyncSession,
    operation: OperationRow,
    rollback: ApprovalRequest,
    channel: str,
    config: DeployConfig,
    now: datetime,
) -> None:
    """End `operation` (running or baking) because `rollback` runs instead of it."""
    await hand_over_lock(session, rollback.target, rollback.id, now)
    was = operation.status
    operation.status = "superseded"
    operation.superseded_by = rollback.id
    operation.finished_at = now
    found = await load_request(session, operation.request_id, for_update=True)
    if found is None:
        return
    row, request = found
    text = progress_preempting(request.operation, was)
    await messaging.reply(session, rollback.id, channel, text, now)
    if request.status is not Outcome.RUNNING:
        return
    request = finish(request, Outcome.FAILED, result_superseded(rollback), now)
    save_request(row, request, now)
    await messaging.update_request(session, request, row.channel, config, now)
    text = progress_superseded(rollback, request.operation)
    await messaging.reply(session, request.id, row.channel, text, now)
    await messaging.reply(session, request.id, row.channel, progress_finished(request), now)
    trail.record(
        session,
        at=now,
        actor=trail.SYSTEM,
        action="operation.superseded",
        subject=message_key(request.id),
        by=message_key(rollback.id),
        was=was,
        outcome=request.status.value,
        approvers=list(request.approved_by),
        requester=request.requester,
    )

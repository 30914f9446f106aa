"""The approval message, its thread and ephemeral answers, queued in the outbox.

Everything goes through the caller's session, so a message is sent exactly when the state
it shows has committed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.approvals.ids import message_key
from bot.approvals.store import PRIORITY
from bot.operations.store import firing_alerts
from bot.slack.outbox_queue import enqueue
from commands.approval import ApprovalRequest
from commands.config import DeployConfig
from commands.render import render_approval


async def _payload(
    session: AsyncSession, request: ApprovalRequest, config: DeployConfig
) -> dict[str, object]:
    alerts = [a.line for a in await firing_alerts(session, request.target.service)]
    return render_approval(request, config, firing_alerts=alerts)


async def post_request(
    session: AsyncSession,
    request: ApprovalRequest,
    channel: str,
    config: DeployConfig,
    now: datetime,
) -> None:
    await enqueue(
        session,
        op="post",
        channel=channel,
        payload=await _payload(session, request, config),
        message_key=message_key(request.id),
        priority=PRIORITY,
        now=now,
    )


async def update_request(
    session: AsyncSession,
    request: ApprovalRequest,
    channel: str,
    config: DeployConfig,
    now: datetime,
) -> None:
    await enqueue(
        session,
        op="update",
        channel=channel,
        payload=await _payload(session, request, config),
        message_key=message_key(request.id),
        priority=PRIORITY,
        now=now,
    )


async def reply(
    session: AsyncSession, request_id: str, channel: str, text: str, now: datetime
) -> None:
    await enqueue(
        session,
        op="reply",
        channel=channel,
        payload={"text": text},
        message_key=message_key(request_id),
        priority=PRIORITY,
        now=now,
    )


async def tell(session: AsyncSession, channel: str, user: str, text: str, now: datetime) -> None:
    """Something only `user` sees, in `channel`."""
    await enqueue(
        session,
        op="ephemeral",
        channel=channel,
        payload={"text": text, "user": user},
        priority=0,
        now=now,
    )

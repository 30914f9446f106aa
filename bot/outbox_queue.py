"""Putting Slack calls into the outbox, inside the caller's transaction.

Enqueuing in the same transaction as the state change means a crash can never leave a
state change without its Slack message, or a message for a change that was rolled back.
Updates to one message coalesce: the newest state replaces a pending update, or the
pending post itself when the message has not gone out yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import OutboxEntry

Op = Literal["post", "update", "reply", "ephemeral"]


async def enqueue(
    session: AsyncSession,
    *,
    op: Op,
    channel: str,
    payload: dict[str, Any],
    now: datetime,
    message_key: str | None = None,
    priority: int = 2,
) -> OutboxEntry:
    if op == "update":
        if message_key is None:
            raise ValueError("an update needs the message_key of the message it changes")
        pending = (
            await session.scalars(
                select(OutboxEntry)
                .where(
                    OutboxEntry.message_key == message_key,
                    OutboxEntry.state == "pending",
                    OutboxEntry.op.in_(("post", "update")),
                )
                .order_by(OutboxEntry.id.desc())
                .limit(1)
            )
        ).first()
        if pending is not None:
            pending.payload = {**pending.payload, **payload}
            pending.priority = min(pending.priority, priority)
            return pending
    entry = OutboxEntry(
        op=op,
        channel=channel,
        message_key=message_key,
        priority=priority,
        payload=payload,
        state="pending",
        attempts=0,
        not_before=now,
        created_at=now,
    )
    session.add(entry)
    return entry

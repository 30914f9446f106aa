"""Putting Slack calls into the outbox, inside the caller's transaction.

Enqueuing in the same transaction as the state change means a crash can never leave a
state change without its Slack message, or a message for a change that was rolled back.
Updates to one message coalesce: the newest state replaces a pending update, or the
pending post itself when the message has not gone out yet. The pending row is locked
while it is merged into (`FOR UPDATE`): a replica that claims it for sending at the same
moment either waits for the merge or makes the merge start a new row, so no state is
lost between "read" and "sent".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.slack.answer_context import response_url_for
from bot.slack.outbox.pacing import PACE_PER_SECOND, PACED
from bot.storage.models import OutboxEntry, OutboxFile

Op = Literal["post", "update", "reply", "ephemeral", "upload", "call"]
MAX_UPLOAD_BYTES = 1024 * 1024 * 1024  # Slack's limit for one file


async def enqueue(
    session: AsyncSession,
    *,
    op: Op,
    channel: str,
    payload: dict[str, Any],
    now: datetime,
    message_key: str | None = None,
    priority: int = 2,
    min_spacing: timedelta | None = None,
) -> OutboxEntry:
    """Queue one Slack call. `min_spacing` paces updates of one message: the next update
    waits until that long after the last one was sent, and everything that changes
    meanwhile merges into it (a storm summary rewritten per folded group goes out as one
    call every few seconds, not one call per fold)."""
    not_before = now
    if op == "ephemeral" and "response_url_id" not in payload:
        # An answer to the Slack request being handled goes through its response_url.
        url_id = response_url_for(channel, str(payload.get("user", "")))
        if url_id is not None:
            payload = {**payload, "response_url_id": url_id}
    if op == "update":
        if message_key is None:
            raise ValueError("an update needs the message_key of the message it changes")
        pending = await pending_call(session, message_key)
        if pending is not None:
            pending.payload = {**pending.payload, **payload}
            pending.priority = min(pending.priority, priority)
            return pending
        if min_spacing is not None:
            last_sent = await session.scalar(
                select(func.max(OutboxEntry.sent_at)).where(
                    OutboxEntry.message_key == message_key,
                    OutboxEntry.state == "sent",
                    OutboxEntry.op.in_(("post", "update")),
                )
            )
            if last_sent is not None:
                not_before = max(now, last_sent + min_spacing)
    return _add(session, op, channel, message_key, priority, payload, not_before, now)


async def pending_call(session: AsyncSession, message_key: str) -> OutboxEntry | None:
    """The message's newest post or update not sent yet, locked: what an update merges into."""
    return (
        await session.scalars(
            select(OutboxEntry)
            .where(
                OutboxEntry.message_key == message_key,
                OutboxEntry.state == "pending",
                OutboxEntry.op.in_(("post", "update")),
            )
            .order_by(OutboxEntry.id.desc())
            .limit(1)
            .with_for_update()
        )
    ).first()


def _add(
    session: AsyncSession,
    op: Op,
    channel: str,
    message_key: str | None,
    priority: int,
    payload: dict[str, Any],
    not_before: datetime,
    now: datetime,
) -> OutboxEntry:
    entry = OutboxEntry(
        op=op,
        channel=channel,
        message_key=message_key,
        priority=priority,
        payload=payload,
        state="pending",
        attempts=0,
        not_before=not_before,
        created_at=now,
    )
    session.add(entry)
    return entry


async def enqueue_upload(
    session: AsyncSession,
    *,
    channel: str,
    content: bytes,
    filename: str,
    now: datetime,
    title: str | None = None,
    alt_text: str | None = None,
    comment: str | None = None,
    message_key: str | None = None,
    priority: int = 2,
) -> OutboxEntry:
    """Queue a file for Slack's upload flow (files.getUploadURLExternal, the upload,
    files.completeUploadExternal). With `message_key` it goes into that message's thread,
    after the message itself has been posted; `comment` is the text shown with it."""
    if not content:
        raise ValueError("an upload needs content: Slack refuses empty files")
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValueError(f"{len(content)} bytes is more than Slack accepts for one file")
    stored = OutboxFile(content=content, created_at=now)
    session.add(stored)
    await session.flush()
    payload: dict[str, Any] = {"file": stored.id, "filename": filename, "length": len(content)}
    if title:
        payload["title"] = title
    if alt_text:
        payload["alt_text"] = alt_text[:1000]  # Slack's limit for alt_txt
    if comment:
        payload["text"] = comment
    return _add(session, "upload", channel, message_key, priority, payload, now, now)


def waiting_posts(channel: str) -> Select[int]:
    """How many messages wait to be posted in `channel` (what Slack's per-channel limit
    paces), as a query: `waiting`."""
    return (
        select(func.count().label("waiting"))
        .select_from(OutboxEntry)
        .where(
            OutboxEntry.channel == channel,
            OutboxEntry.state.in_(("pending", "sending")),
            OutboxEntry.op.in_(PACED),
        )
    )


async def channel_backlog(session: AsyncSession, channel: str) -> int:
    """Messages waiting to be posted in `channel` (what Slack's per-channel limit paces)."""
    return int(await session.scalar(waiting_posts(channel)) or 0)


async def backlog_seconds(session: AsyncSession, channel: str) -> float:
    """How long `channel`'s waiting posts take to go out at the rate the outbox paces."""
    return await channel_backlog(session, channel) / PACE_PER_SECOND

"""Reading and writing stored approval requests of any kind, and Slack event receipts.

Every function takes the caller's session, so a state change, its audit event and its
Slack message (outbox row) commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.approvals.ids import request_id_of
from bot.approvals.models import ApprovalRequestRow, SlackEventReceipt
from bot.storage.models import SlackMessage
from commands.approval import Approval

PRIORITY = 1
"""Outbox priority of approval messages: before routine alert traffic, someone is waiting."""


async def load_row(
    session: AsyncSession, request_id: str, *, for_update: bool = False
) -> ApprovalRequestRow | None:
    """The stored request of any kind."""
    query = select(ApprovalRequestRow).where(ApprovalRequestRow.id == request_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


def save_request(row: ApprovalRequestRow, request: Approval, now: datetime) -> None:
    row.status = request.status.value
    row.data = request.to_dict()
    row.updated_at = now


async def request_at(session: AsyncSession, channel: str, ts: str) -> str | None:
    """The approval request whose message is at (channel, ts), if it is one."""
    keys = (
        await session.scalars(
            select(SlackMessage.key).where(SlackMessage.channel == channel, SlackMessage.ts == ts)
        )
    ).all()
    for key in keys:
        found = request_id_of(key)
        if found is not None:
            return found
    return None


async def first_receipt(session: AsyncSession, event_id: str, now: datetime) -> bool:
    """Record `event_id`; False when it was recorded before (a retried delivery)."""
    if await session.get(SlackEventReceipt, event_id) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(SlackEventReceipt(event_id=event_id, received_at=now))
    except IntegrityError:
        return False
    return True

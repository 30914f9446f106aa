"""Reading the audit events a report needs, with each alert group's priority filled in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.report.figures import ACKS, STARTS, Event
from bot.storage.models import AlertGroup, AuditEvent

ACTIONS = (
    STARTS
    | ACKS
    | {
        "alert.resolved",
        "escalation.paged",
        "operation.requested",
        "operation.approved",
        "operation.rejected",
        "operation.expired",
        "operation.started",
        "operation.finished",
    }
)
GROUP_PREFIX = "alert-group:"


async def load_events(session: AsyncSession, since: datetime, until: datetime) -> list[Event]:
    rows = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.at >= since, AuditEvent.at < until, AuditEvent.action.in_(ACTIONS))
            .order_by(AuditEvent.id)
        )
    ).all()
    group_ids = {
        int(row.subject.removeprefix(GROUP_PREFIX))
        for row in rows
        if row.subject.startswith(GROUP_PREFIX) and row.subject[len(GROUP_PREFIX) :].isdigit()
    }
    priorities: dict[str, str] = {}
    if group_ids:
        found = await session.execute(
            select(AlertGroup.id, AlertGroup.priority).where(AlertGroup.id.in_(group_ids))
        )
        priorities = {f"{GROUP_PREFIX}{gid}": priority for gid, priority in found.all()}
    return [
        Event(
            at=row.at,
            action=row.action,
            subject=row.subject,
            details=dict(row.details or {}),
            priority=priorities.get(row.subject),
        )
        for row in rows
    ]

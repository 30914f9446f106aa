"""The PagerDuty line an alert group's message shows ("Paged PagerDuty", "Escalated to ...").

It says what PagerDuty last told us about the group's incident and who holds it there
(assignees, escalation policy, PagerDuty's priority), so the message is right after a
reassignment, a delegation or a priority change.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import messages as m
from bot.pagerduty.models import PagerDutyIncident, PagerDutyPage


async def pagerduty_note(session: AsyncSession, group_id: int) -> str | None:
    """What PagerDuty last told us about the group, else whether we paged it (raw text)."""
    incident = (
        await session.scalars(
            select(PagerDutyIncident)
            .where(PagerDutyIncident.group_id == group_id)
            .order_by(PagerDutyIncident.updated_at.desc(), PagerDutyIncident.id.desc())
            .limit(1)
        )
    ).first()
    note = incident.note if incident is not None else None
    if not note:
        paged = (
            await session.scalars(
                select(PagerDutyPage.id)
                .where(
                    PagerDutyPage.group_id == group_id,
                    PagerDutyPage.action == "trigger",
                    PagerDutyPage.state == "sent",
                )
                .limit(1)
            )
        ).first()
        note = m.PAGED if paged is not None else None
    if incident is None or incident.status == "resolved":
        return note
    parts = [note] if note else []
    if incident.assignees and incident.assignees not in (note or ""):
        parts.append(m.PD_HELD_BY.format(who=incident.assignees))
    if incident.escalation_policy and incident.escalation_policy not in (note or ""):
        parts.append(m.PD_POLICY.format(policy=incident.escalation_policy))
    if incident.priority:
        parts.append(m.PD_PRIORITY.format(priority=incident.priority))
    return " · ".join(parts) or None

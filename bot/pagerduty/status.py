"""The PagerDuty line an alert group's message shows ("Paged PagerDuty", "Escalated to ...")."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import messages as m
from bot.pagerduty.models import PagerDutyIncident, PagerDutyPage


async def pagerduty_note(session: AsyncSession, group_id: int) -> str | None:
    """What PagerDuty last told us about the group, else whether we paged it."""
    note = (
        await session.scalars(
            select(PagerDutyIncident.note)
            .where(PagerDutyIncident.group_id == group_id, PagerDutyIncident.note.is_not(None))
            .order_by(PagerDutyIncident.updated_at.desc(), PagerDutyIncident.id.desc())
            .limit(1)
        )
    ).first()
    if note:
        return note
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
    return m.PAGED if paged is not None else None

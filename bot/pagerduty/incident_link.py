"""The PagerDuty incidents of alert groups, for features that show or follow them (the
declared incidents' summary, their notes and resolve) without knowing PagerDuty's rows.

The service hands `linked_incidents` to every session (bot/incidents/pagerduty.py names
the key), as it hands the alert message's PagerDuty line (bot/alerts/groups.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.pagerduty.models import PagerDutyIncident


@dataclass(frozen=True)
class LinkedIncident:
    incident_id: str
    number: int
    status: str  # triggered | acknowledged | resolved
    html_url: str


async def linked_incidents(session: AsyncSession, group_ids: Sequence[int]) -> list[LinkedIncident]:
    if not group_ids:
        return []
    rows = await session.scalars(
        select(PagerDutyIncident)
        .where(PagerDutyIncident.group_id.in_(list(group_ids)))
        .order_by(PagerDutyIncident.id)
    )
    return [LinkedIncident(r.incident_id, r.number, r.status, r.html_url) for r in rows]

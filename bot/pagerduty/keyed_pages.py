"""Pages that belong to no alert group, known by their dedup key alone (a late heartbeat).

They go through the same durable queue as a group's pages (bot/pagerduty/pages.py), so
they are delivered by the timer holder with the same retries, pacing and audit events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.escalation import PAGER_SEVERITY
from bot.pagerduty.models import PagerDutyPage
from bot.pagerduty.pages import DEFAULT_ROUTE


def trigger(
    session: AsyncSession,
    *,
    dedup_key: str,
    summary: str,
    priority: str,
    subject: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    """Queue a trigger under `dedup_key` (paged with PAGERDUTY_ROUTING_KEY)."""
    payload = {
        "summary": summary[:1024],  # PagerDuty's limit for a summary
        "source": "chatops",
        "severity": PAGER_SEVERITY.get(priority, "error"),
        "custom_details": details,
        "subject": subject,
    }
    session.add(_page("trigger", dedup_key, payload, now))


async def resolve(session: AsyncSession, dedup_key: str, now: datetime, *, subject: str) -> int:
    """Resolve what was triggered under `dedup_key`, once; a trigger still queued is
    cancelled instead. How many resolve events were queued (0 or 1)."""
    triggers = (
        await session.scalars(
            select(PagerDutyPage).where(
                PagerDutyPage.dedup_key == dedup_key,
                PagerDutyPage.group_id.is_(None),
                PagerDutyPage.action == "trigger",
                PagerDutyPage.state.in_(("pending", "sending", "sent")),
                PagerDutyPage.followed.is_(None),
            )
        )
    ).all()
    queued = 0
    for page in triggers:
        page.followed = "resolve"
        if page.state == "pending":
            page.state = "cancelled"
        elif not queued:
            session.add(_page("resolve", dedup_key, {"subject": subject}, now))
            queued = 1
    return queued


def _page(action: str, key: str, payload: dict[str, Any], now: datetime) -> PagerDutyPage:
    return PagerDutyPage(
        group_id=None,
        action=action,
        dedup_key=key,
        route_ref=DEFAULT_ROUTE,
        payload=payload,
        state="pending",
        attempts=0,
        not_before=now,
        announced=False,
        created_at=now,
    )

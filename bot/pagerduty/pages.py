"""The durable page queue: PagerDuty events are rows first, deliveries second.

A page is queued in the transaction that decides it (the escalation step, the Slack
acknowledgement, the resolution), so it can neither be lost nor sent for a change that
rolled back. bot/pagerduty/sender.py delivers them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.escalation import PAGER_SEVERITY
from alerts.policy import match_route
from bot.config import Config
from bot.pagerduty.models import PagerDutyPage
from bot.storage.models import Alert, AlertGroup

log = logging.getLogger(__name__)

DEFAULT_ROUTE = "default"


def dedup_key(group: AlertGroup, fingerprint: str | None = None) -> str:
    """One PagerDuty alert per group, or per alert when `pagerduty.dedup: alert`."""
    key = f"chatops:group:{group.id}"
    return f"{key}:{fingerprint}" if fingerprint else key


def route_ref(group: AlertGroup, config: Config) -> str:
    """Which route's routing key applies; the key itself is never stored."""
    labels = {**group.group_labels, **group.common_labels}
    route = match_route(labels, config.alerts)
    if route.pagerduty_routing_key:
        return f"route:{config.alerts.routes.index(route)}"
    return DEFAULT_ROUTE


async def trigger(session: AsyncSession, group: AlertGroup, config: Config, now: datetime) -> int:
    """Queue trigger event(s) for the group; returns how many."""
    ref = route_ref(group, config)
    labels = {**group.group_labels, **group.common_labels}
    name = labels.get("alertname", "Alert")
    summary = group.common_annotations.get("summary", "")
    base = {
        "summary": f"[{group.priority}] {name}" + (f": {summary}" if summary else ""),
        "source": labels.get("service") or labels.get("instance") or "chatops",
        "severity": PAGER_SEVERITY.get(group.priority, "error"),
        "custom_details": {"labels": labels, "channel": group.channel},
    }
    keys: list[tuple[str, dict[str, Any]]] = []
    if config.pagerduty.dedup == "alert":
        alerts = (
            await session.scalars(
                select(Alert).where(Alert.group_id == group.id, Alert.status == "firing")
            )
        ).all()
        for alert in alerts:
            alert_summary = alert.annotations.get("summary", "") or summary
            payload = {
                **base,
                "summary": f"[{group.priority}] {alert.alertname or name}"
                + (f": {alert_summary}" if alert_summary else ""),
                "custom_details": {"labels": alert.labels, "channel": group.channel},
            }
            keys.append((dedup_key(group, alert.fingerprint), payload))
    if not keys:
        keys.append((dedup_key(group), base))
    for key, payload in keys:
        session.add(_page(group, "trigger", key, ref, payload, now))
    return len(keys)


async def follow_up(
    session: AsyncSession, group: AlertGroup, action: str, now: datetime, *, send: bool = True
) -> int:
    """Queue `acknowledge` or `resolve` for every alert we triggered for the group, once.

    A trigger that has not gone out yet is cancelled instead: nobody needs to be woken
    for an alert already acknowledged or resolved. `send=False` only records that the
    follow-up happened elsewhere (an acknowledgement that came from PagerDuty itself).
    """
    done = ("acknowledge", "resolve") if action == "acknowledge" else ("resolve",)
    triggers = (
        await session.scalars(
            select(PagerDutyPage).where(
                PagerDutyPage.group_id == group.id,
                PagerDutyPage.action == "trigger",
                PagerDutyPage.state.in_(("pending", "sending", "sent")),
            )
        )
    ).all()
    queued: set[str] = set()
    for page in triggers:
        if page.followed in done:
            continue
        page.followed = action
        if page.state == "pending":
            page.state = "cancelled"
            continue
        # A key paged again (escalation restarted after an unacknowledgement) has several
        # triggers, and PagerDuty one incident: one follow-up per key is enough.
        if send and page.dedup_key not in queued:
            session.add(_page(group, action, page.dedup_key, page.route_ref, {}, now))
            queued.add(page.dedup_key)
    return len(queued)


async def reopen(session: AsyncSession, group: AlertGroup) -> None:
    """Nobody holds the group any more: its next acknowledgement or resolution is sent
    to PagerDuty again, even if one was sent before."""
    await session.execute(
        update(PagerDutyPage)
        .where(
            PagerDutyPage.group_id == group.id,
            PagerDutyPage.action == "trigger",
            PagerDutyPage.followed.is_not(None),
        )
        .values(followed=None)
    )


def _page(
    group: AlertGroup, action: str, key: str, ref: str, payload: dict[str, Any], now: datetime
) -> PagerDutyPage:
    return PagerDutyPage(
        group_id=group.id,
        action=action,
        dedup_key=key,
        route_ref=ref,
        payload=payload,
        state="pending",
        attempts=0,
        not_before=now,
        announced=False,
        created_at=now,
    )

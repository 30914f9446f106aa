"""Applying a PagerDuty incident event: the incident row, the alert group, the messages.

An incident whose incident key is a dedup_key we sent is one of our pages: the event
updates that alert group (its acknowledgement and escalation) and its message. Any other
incident has its own message in the service's channel, updated in place. Notes,
responder requests, status updates and bridges go to the thread of whichever message
shows the incident. Runs inside the webhook's transaction.

PagerDuty sits below escalation: escalation pages through it, and when PagerDuty says
an incident of ours is over, the escalation to stop is handed in (`stop_escalation`)
rather than imported from it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.config import AlertsConfig
from alerts.escalation import PAGERDUTY_ACTOR
from alerts.incident_message import IncidentView, render_incident
from alerts.pagerduty import IncidentData, PagerDutyWebhook
from alerts.pagerduty_changes import IncidentChange, decide
from bot.alerts.events import GroupListener, notify
from bot.alerts.groups import refresh_message, reply
from bot.audit import trail
from bot.pagerduty.models import PagerDutyIncident, PagerDutyPage
from bot.pagerduty.receipts import note_change, older_than_last_change
from bot.slack.outbox_queue import enqueue
from bot.storage.models import AlertGroup

log = logging.getLogger(__name__)

URGENCIES = ("high", "low")

# Stops the group's pending escalation steps, giving the reason (inside the transaction).
StopEscalation = Callable[[AsyncSession, AlertGroup, datetime, str], Awaitable[object]]


def incident_key(incident_id: str) -> str:
    return f"pagerduty-incident:{incident_id}"


class IncidentEvents:
    """Applies routed PagerDuty events to the incident rows, alert groups and messages."""

    def __init__(
        self,
        alerts: AlertsConfig,
        services: Mapping[str, str],
        *,
        listeners: Sequence[GroupListener],
        stop_escalation: StopEscalation,
    ) -> None:
        """`services`: PagerDuty service id -> channel (`pagerduty.services`)."""
        self._alerts = alerts
        self._services = services
        self._listeners = listeners
        self._stop_escalation = stop_escalation

    async def apply(self, session: AsyncSession, hook: PagerDutyWebhook, now: datetime) -> str:
        """Apply a routed event; returns the outcome answered to PagerDuty."""
        incident_id = hook.incident_id
        assert incident_id is not None
        row = (
            await session.scalars(
                select(PagerDutyIncident).where(PagerDutyIncident.incident_id == incident_id[:64])
            )
        ).first()
        if older_than_last_change(row, hook):
            log.info(
                "PagerDuty %s for incident %s occurred before its last change: not applied",
                hook.event.event_type,
                incident_id,
            )
            return "stale"
        if hook.incident is not None:
            row = await _remember(session, row, hook.incident, hook.event.event_type, now)
        elif row is None:
            # A note or responder on an incident never seen: nothing shows it to add to.
            log.info("PagerDuty %s for unknown incident %s", hook.event.event_type, incident_id)
            return "unknown_incident"
        change = decide(hook)
        note_change(row, hook)
        row.last_event = hook.event.event_type[:64]
        row.updated_at = now
        trail.record(
            session,
            at=now,
            actor=f"pagerduty:{hook.agent_name or 'PagerDuty'}"[:64],
            action=hook.event.event_type.replace("incident.", "pagerduty.")[:64],
            subject=f"alert-group:{row.group_id}"
            if row.group_id
            else incident_key(row.incident_id),
            incident=row.incident_id,
            status=row.status,
        )
        if row.group_id is not None:
            group = await session.get(AlertGroup, row.group_id, with_for_update=True)
            if group is not None:
                return await self._ours(session, change, row, group, now)
        return await self._theirs(session, change, row, now)

    async def _ours(
        self,
        session: AsyncSession,
        change: IncidentChange,
        row: PagerDutyIncident,
        group: AlertGroup,
        now: datetime,
    ) -> str:
        """An event on one of our pages; PagerDuty's echo of our own change changes nothing."""
        if change.effect == "acknowledge":
            if group.acked_by:
                return "unchanged"  # acknowledged in Slack first: this is PagerDuty's echo
            group.acked_by, group.acked_at, group.updated_at = PAGERDUTY_ACTOR, now, now
            await notify(self._listeners, session, group, "acknowledged", now, PAGERDUTY_ACTOR)
        elif change.effect == "restart":
            if group.status == "firing":
                group.acked_by, group.acked_at, group.updated_at = None, None, now
                await notify(
                    self._listeners, session, group, "unacknowledged", now, PAGERDUTY_ACTOR
                )
        elif change.effect == "stop":
            if change.outcome == "resolved" and group.status == "resolved":
                return "unchanged"  # our own resolve event, echoed
            await self._stop_escalation(session, group, now, f"PagerDuty: {change.outcome}")
        _note(row, change)
        await refresh_message(session, group, self._alerts, now)
        if change.thread:
            await reply(session, group, change.thread, now)
        return change.outcome

    async def _theirs(
        self,
        session: AsyncSession,
        change: IncidentChange,
        row: PagerDutyIncident,
        now: datetime,
    ) -> str:
        channel = row.channel or self._services.get(row.service_id)
        if channel is None:
            log.info("PagerDuty service %r has no channel in pagerduty.services", row.service_id)
            return "unrouted"
        _note(row, change)
        first = row.channel is None
        row.channel = channel
        await post_incident(session, row, now, first=first)
        if change.thread and not first:
            await enqueue(
                session,
                op="reply",
                channel=channel,
                payload={"text": change.thread},
                message_key=incident_key(row.incident_id),
                priority=0 if row.urgency == "high" else 2,
                now=now,
            )
        return "posted" if first else change.outcome


async def _remember(
    session: AsyncSession,
    row: PagerDutyIncident | None,
    incident: IncidentData,
    event_type: str,
    now: datetime,
) -> PagerDutyIncident:
    """Create or update the incident row from what the event says (absent parts are kept)."""
    if row is None:
        group_id = None
        if incident.incident_key:
            group_id = await session.scalar(
                select(PagerDutyPage.group_id)
                .where(
                    PagerDutyPage.dedup_key == incident.incident_key[:255],
                    PagerDutyPage.action == "trigger",
                )
                .limit(1)
            )
        row = PagerDutyIncident(
            incident_id=incident.id[:64],
            group_id=group_id,
            status="triggered",
            urgency="high",
            created_at=now,
            updated_at=now,
        )
        session.add(row)
    row.status = incident.status_after(event_type) or row.status
    if incident.number:
        row.number = incident.number
    if incident.title:
        row.title = incident.title[:1024]
    if incident.urgency in URGENCIES:
        row.urgency = incident.urgency
    if incident.service is not None and incident.service.id:
        row.service_id = incident.service.id[:64]
        row.service_name = incident.service.name[:255]
    if incident.html_url:
        row.html_url = incident.html_url[:1024]
    sent = incident.model_fields_set
    if "assignees" in sent:
        row.assignees = incident.assignee_names[:1024]
    if incident.escalation_policy is not None and incident.escalation_policy.name:
        row.escalation_policy = incident.escalation_policy.name[:255]
    if "priority" in sent:  # `priority: null` says the incident has none (any more)
        row.priority = (incident.priority.name[:64] or None) if incident.priority else None
    return row


def _note(row: PagerDutyIncident, change: IncidentChange) -> None:
    if change.note is not None:
        row.note = change.note[:1024]


async def post_incident(
    session: AsyncSession, row: PagerDutyIncident, now: datetime, *, first: bool = False
) -> None:
    view = IncidentView(
        incident_id=row.incident_id,
        number=row.number,
        title=row.title,
        status=row.status,
        urgency=row.urgency,
        service_name=row.service_name,
        html_url=row.html_url,
        assignees=row.assignees,
        note=row.note,
        escalation_policy=row.escalation_policy or "",
        priority=row.priority or "",
    )
    await enqueue(
        session,
        op="post" if first else "update",
        channel=row.channel or "",
        payload=render_incident(view),
        message_key=incident_key(row.incident_id),
        priority=0 if row.urgency == "high" else 2,
        now=now,
    )

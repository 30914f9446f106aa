"""`POST /webhooks/pagerduty`: signed v3 webhooks routed into Slack.

Checked in this order: size (413), signature (401), shape (400). Event types we do not
act on are answered 2xx and logged, since PagerDuty adds types over time and would
otherwise retry them. An incident that is one of our pages (its incident key is a
dedup_key we sent) updates that alert group's message and stops our escalation; any
other incident gets its own message in the service's channel, updated in place. The
change is committed before the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import messages as m
from alerts.escalation import PAGERDUTY_ACTOR
from alerts.pagerduty import IncidentData, PagerDutyWebhook, WebhookPayloadError, parse_webhook
from alerts.render import IncidentView, render_incident
from bot import audit
from bot.alert_groups import refresh_message, reply
from bot.escalation.engine import cancel_steps
from bot.group_events import notify
from bot.operations.store import first_receipt
from bot.outbox_queue import enqueue
from bot.pagerduty.models import PagerDutyIncident, PagerDutyPage
from bot.pagerduty_signature import HEADER, verify_signature
from bot.storage.models import AlertGroup

if TYPE_CHECKING:
    from bot.service import Service

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


def incident_key(incident_id: str) -> str:
    return f"pagerduty-incident:{incident_id}"


def handler(service: Service) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def pagerduty_webhook(request: web.Request) -> web.Response:
        rejected = service.metrics.webhook_rejected
        if request.content_length is not None and request.content_length > MAX_BODY:
            rejected.labels("pagerduty", "too_large").inc()
            return _error(413, f"body over {MAX_BODY} bytes")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            rejected.labels("pagerduty", "too_large").inc()
            return _error(413, f"body over {MAX_BODY} bytes")
        secret = service.settings.pagerduty_webhook_secret
        secrets = [secret.get_secret_value()] if secret is not None else []
        if not verify_signature(body, request.headers.get(HEADER), secrets):
            rejected.labels("pagerduty", "unauthorised").inc()
            if not any(secrets):
                log.warning("PagerDuty webhook refused: PAGERDUTY_WEBHOOK_SECRET is not set")
            return _error(401, "missing or wrong X-PagerDuty-Signature")
        try:
            hook = parse_webhook(body)
        except WebhookPayloadError as exc:
            rejected.labels("pagerduty", "invalid").inc()
            return _error(400, str(exc))
        if not hook.routed or hook.incident is None:
            log.info("PagerDuty %s event ignored (not routed)", hook.event.event_type)
            return web.json_response({"status": "ignored", "event_type": hook.event.event_type})
        now = service.clock.now()
        async with service.sessions.begin() as session:
            # PagerDuty's signature carries no timestamp, so a captured webhook could be
            # sent again; each event id is applied once (its retries share the id too).
            if not await first_receipt(session, f"pagerduty:{hook.event.id}"[:64], now):
                rejected.labels("pagerduty", "replayed").inc()
                return web.json_response({"status": "duplicate", "event_id": hook.event.id})
            outcome = await apply(session, hook, service, now)
        service.wake_outbox()
        return web.json_response({"status": outcome})

    return pagerduty_webhook


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status)


def _who(hook: PagerDutyWebhook) -> str:
    agent = hook.event.agent
    return (agent.summary or agent.id) if agent is not None else m.NOBODY


def _assignees(incident: IncidentData) -> str:
    return ", ".join(a.summary or a.id for a in incident.assignees)


async def apply(
    session: AsyncSession, hook: PagerDutyWebhook, service: Service, now: datetime
) -> str:
    incident = hook.incident
    assert incident is not None
    event_type = hook.event.event_type
    row = (
        await session.scalars(
            select(PagerDutyIncident).where(PagerDutyIncident.incident_id == incident.id)
        )
    ).first()
    group_id = row.group_id if row is not None else None
    if group_id is None and incident.incident_key:
        group_id = await session.scalar(
            select(PagerDutyPage.group_id)
            .where(
                PagerDutyPage.dedup_key == incident.incident_key, PagerDutyPage.action == "trigger"
            )
            .limit(1)
        )
    if row is None:
        row = PagerDutyIncident(incident_id=incident.id, group_id=group_id, created_at=now)
        session.add(row)
    row.number = incident.number
    row.title = incident.title[:1024]
    row.status = incident.status
    row.urgency = incident.urgency
    row.service_id = incident.service.id
    row.service_name = (incident.service.summary or incident.service.id)[:255]
    row.html_url = incident.html_url[:1024]
    row.assignees = _assignees(incident)[:1024]
    row.last_event = event_type
    row.updated_at = now
    audit.record(
        session,
        at=now,
        actor=f"pagerduty:{_who(hook)}"[:64],
        action=event_type.replace("incident.", "pagerduty."),
        subject=f"alert-group:{group_id}" if group_id else incident_key(incident.id),
        incident=incident.id,
        status=incident.status,
    )
    if group_id is not None:
        group = await session.get(AlertGroup, group_id, with_for_update=True)
        if group is not None:
            return await _ours(session, hook, row, group, service, now)
    return await _theirs(session, hook, row, service, now)


async def _ours(
    session: AsyncSession,
    hook: PagerDutyWebhook,
    row: PagerDutyIncident,
    group: AlertGroup,
    service: Service,
    now: datetime,
) -> str:
    event_type = hook.event.event_type
    who = _who(hook)
    alerts = service.config.alerts
    if event_type == "incident.acknowledged":
        if group.acked_by:
            return "unchanged"  # acknowledged in Slack first: this is PagerDuty's echo
        group.acked_by, group.acked_at, group.updated_at = PAGERDUTY_ACTOR, now, now
        row.note = m.PD_ACKED.format(who=who)
        await notify(service.group_listeners, session, group, "acknowledged", now, PAGERDUTY_ACTOR)
        await refresh_message(session, group, alerts, now)
        await reply(session, group, m.THREAD_PD_ACKED.format(who=who), now)
        return "acknowledged"
    if event_type in ("incident.escalated", "incident.reassigned"):
        target = _assignees(hook.incident) if hook.incident else ""
        row.note = m.PD_ESCALATED.format(who=target or who)
        await cancel_steps(session, group, now, "PagerDuty escalated it")
        await refresh_message(session, group, alerts, now)
        await reply(session, group, m.THREAD_PD_ESCALATED.format(who=target or who), now)
        return "escalated"
    if event_type == "incident.resolved":
        if group.status == "resolved":
            return "unchanged"  # our own resolve event, echoed
        row.note = m.PD_RESOLVED.format(who=who)
        await cancel_steps(session, group, now, "resolved in PagerDuty")
        await refresh_message(session, group, alerts, now)
        await reply(session, group, m.THREAD_PD_RESOLVED.format(who=who), now)
        return "resolved"
    return "unchanged"  # triggered: the echo of our own page


async def _theirs(
    session: AsyncSession,
    hook: PagerDutyWebhook,
    row: PagerDutyIncident,
    service: Service,
    now: datetime,
) -> str:
    incident = hook.incident
    assert incident is not None
    channel = service.config.pagerduty.services.get(incident.service.id)
    if channel is None:
        log.info("PagerDuty service %s has no channel in pagerduty.services", incident.service.id)
        return "unrouted"
    event_type = hook.event.event_type
    who = _who(hook)
    if event_type == "incident.acknowledged":
        row.note = m.PD_ACKED.format(who=who)
    elif event_type in ("incident.escalated", "incident.reassigned"):
        row.note = m.PD_ESCALATED.format(who=_assignees(incident) or who)
    elif event_type == "incident.resolved":
        row.note = m.PD_RESOLVED.format(who=who)
    first = row.channel is None
    row.channel = row.channel or channel
    await post_incident(session, row, now, first=first)
    return "posted" if first else "updated"


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

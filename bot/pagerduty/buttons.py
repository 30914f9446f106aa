"""Acknowledge / Resolve on messages for PagerDuty incidents that are not our pages.

The click acts in PagerDuty as the person who clicked (REST API `From` header), so a
Slack user needs a `pagerduty.users` mapping; without one they are told how to add it.
PagerDuty then sends its webhook, which updates the message again with the same state.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from sqlalchemy import select

from actions.pagerduty import PagerError
from actions.pagerduty.incidents import validate_incident_id
from alerts import messages as m
from alerts.slack_text import escape
from bot.audit import trail
from bot.pagerduty.incident_events import incident_key, post_incident
from bot.pagerduty.models import PagerDutyIncident
from bot.slack.clicks import clicked_on

if TYPE_CHECKING:
    from bot.service import Service

log = logging.getLogger(__name__)


def register(app: AsyncApp, service: Service) -> None:
    async def on_ack(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await act(service, body, "acknowledge")

    async def on_resolve(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await act(service, body, "resolve")

    app.action("pagerduty.ack")(on_ack)
    app.action("pagerduty.resolve")(on_resolve)


async def act(service: Service, body: dict[str, Any], what: str) -> None:
    actions = body.get("actions") or [{}]
    incident_id = str(actions[0].get("value", ""))
    user = str((body.get("user") or {}).get("id", ""))
    try:
        validate_incident_id(incident_id)
    except ValueError:
        await service.ephemeral_from_body(body, "That button is not valid any more.")
        return
    if not await clicked_on(service.sessions, body, incident_key(incident_id)):
        # Only incidents the bot posted, from their own message: a value naming any
        # other incident would act in PagerDuty on something nobody here was shown.
        await service.refuse_click(
            body,
            m.NOT_FROM_ITS_MESSAGE,
            action=f"pagerduty.{what}.refused",
            subject=incident_key(incident_id),
            reason="button not from the incident's message",
        )
        return
    email = service.config.pagerduty.users.get(user)
    if not email:
        await service.ephemeral_from_body(body, m.PD_NO_USER.format(user=user))
        return
    client = service.escalation.incidents
    if client is None:
        await service.ephemeral_from_body(body, m.PD_NOT_CONFIGURED)
        return
    try:
        if what == "acknowledge":
            incident = await client.acknowledge(incident_id, email)
        else:
            incident = await client.resolve(incident_id, email)
    except PagerError as exc:
        await service.ephemeral_from_body(
            body, m.PD_ACTION_FAILED.format(error=escape(exc.message))
        )
        return
    now = service.clock.now()
    async with service.sessions.begin() as session:
        row = (
            await session.scalars(
                select(PagerDutyIncident).where(PagerDutyIncident.incident_id == incident_id)
            )
        ).first()
        if row is not None:
            row.status = incident.status
            who = f"<@{user}>"
            row.note = (m.PD_ACKED if what == "acknowledge" else m.PD_RESOLVED).format(who=who)
            row.updated_at = now
            if row.channel:
                await post_incident(session, row, now)
        trail.record(
            session,
            at=now,
            actor=user,
            action=f"pagerduty.{what}d" if what == "resolve" else "pagerduty.acknowledged",
            subject=incident_key(incident_id),
            via="slack",
        )
    service.wake_outbox()

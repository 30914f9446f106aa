"""Declaring an incident: by `/incident declare`, the Declare incident button, or
automatically when a group of a priority in `incidents.auto_declare` first fires.

Each runs in the caller's transaction (the intake's, for the automatic one), so the
incident, its group link, its channel's creation and its audit event commit together.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.config import AlertsConfig
from alerts.responders import responders_of
from bot.audit import trail
from bot.incidents import slack_calls, store
from bot.incidents.models import Incident
from bot.storage.models import AlertGroup
from incidents.config import IncidentsConfig
from incidents.naming import channel_name

SYSTEM = "system"


def service_of(group: AlertGroup) -> str | None:
    return store.service_label(group)


def alert_title(group: AlertGroup) -> str:
    labels = {**group.group_labels, **group.common_labels}
    name = str(labels.get("alertname") or "Alert")
    summary = group.common_annotations.get("summary")
    text = f"{name}: {summary}" if summary else name
    return " ".join(str(text).split())[:250]


async def declare(
    session: AsyncSession,
    config: IncidentsConfig,
    *,
    title: str,
    severity: str,
    user: str,
    now: datetime,
    group: AlertGroup | None = None,
) -> store.Declared:
    """A new incident (its channel queued), or the one `group` already belongs to."""
    lead = user if user != SYSTEM else (group.acked_by if group and group.acked_by else "")
    incident = Incident(
        title=title,
        severity=severity,
        status="investigating",
        lead=lead or "",
        declared_by=user,
        declared_at=now,
        started_at=min(group.first_firing_at, now) if group is not None else now,
        channel_name=channel_name(config.channel_prefix, now, title),
        service=service_of(group) if group is not None else None,
        remind_at=now + config.update_every,
    )
    declared = await store.declare(session, incident, group, now)
    if not declared.new:
        return declared
    await slack_calls.queue_channel(session, incident, now)
    trail.record(
        session,
        at=now,
        actor=user,
        action="incident.declared",
        subject=store.subject(incident.id),
        title=title,
        severity=severity,
        group=group.id if group is not None else None,
        channel_name=incident.channel_name,
        started=incident.started_at.isoformat(),
    )
    return declared


def invitees(
    incident: Incident,
    groups: list[AlertGroup],
    config: IncidentsConfig,
    alerts: AlertsConfig,
) -> list[str]:
    """Who is asked into the channel: the declarer, the lead, the acknowledgers, the
    groups' responders (or, when anyone may respond, their priority's on-call mention)
    and `incidents.invite`; user groups are expanded when the invitation is sent."""
    people: list[str] = [incident.declared_by, incident.lead]
    for group in groups:
        people.append(group.acked_by or "")
        labels = {**group.group_labels, **group.common_labels}
        responders = responders_of(labels, alerts)
        if responders is not None:
            people.extend(responders)
        policy = alerts.escalation.get(group.priority)  # type: ignore[call-overload]
        if policy is not None and policy.mention:
            people.append(policy.mention)
    people.extend(config.invite)
    return [p for p in dict.fromkeys(people) if p and p != SYSTEM]


def broadcast_channel(config: IncidentsConfig, alerts: AlertsConfig) -> str | None:
    if config.broadcast_channel:
        return config.broadcast_channel
    p0 = alerts.escalation.get("P0")
    return p0.channel if p0 is not None else None

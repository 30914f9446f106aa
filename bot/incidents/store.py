"""Reading and writing incidents: declaring one (once per alert group) and its view.

`declare` inserts the incident and its alert group's link in one savepoint: when another
transaction linked the group first (a second click, the other replica, the automatic
declaration), the unique `incident_groups.group_id` refuses the link, the savepoint rolls
back the incident with it, and the caller is told which incident the group is already in.
On PostgreSQL the second insert waits for the first transaction and then fails, so the
race has one winner whatever the timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.incidents.models import Incident, IncidentGroup
from bot.storage.models import AlertGroup
from incidents import messages as m
from incidents.summary import IncidentView, LinkedGroup


def channel_key(incident_id: int) -> str:
    """The outbox key its conversations.create row records the channel under."""
    return f"incident-channel:{incident_id}"


def summary_key(incident_id: int) -> str:
    return f"incident-summary:{incident_id}"


def channel_ref(incident_id: int) -> str:
    """The outbox `channel` of calls made before the channel exists (its creation)."""
    return f"incident:{incident_id}"


def subject(incident_id: int) -> str:
    """The audit subject of the incident's own events (its timeline)."""
    return f"incident:{incident_id}"


@dataclass(frozen=True)
class Declared:
    incident: Incident
    new: bool  # False: the group was already in `incident`


async def incident_of_group(session: AsyncSession, group_id: int) -> Incident | None:
    return (
        await session.scalars(
            select(Incident)
            .join(IncidentGroup, IncidentGroup.incident_id == Incident.id)
            .where(IncidentGroup.group_id == group_id)
        )
    ).first()


async def declare(
    session: AsyncSession, incident: Incident, group: AlertGroup | None, now: datetime
) -> Declared:
    """Insert `incident`, linked to `group`; or the incident `group` is already in."""
    if group is not None:
        existing = await incident_of_group(session, group.id)
        if existing is not None:
            return Declared(existing, new=False)
    try:
        async with session.begin_nested():
            session.add(incident)
            await session.flush()
            if group is not None:
                session.add(
                    IncidentGroup(incident_id=incident.id, group_id=group.id, linked_at=now)
                )
                await session.flush()
    except IntegrityError:
        assert group is not None  # only the link is unique
        existing = await incident_of_group(session, group.id)
        if existing is None:
            raise
        return Declared(existing, new=False)
    return Declared(incident, new=True)


async def by_channel(session: AsyncSession, channel: str) -> Incident | None:
    if not channel:
        return None
    return (await session.scalars(select(Incident).where(Incident.channel_id == channel))).first()


async def linked_groups(session: AsyncSession, incident_id: int) -> list[AlertGroup]:
    return list(
        (
            await session.scalars(
                select(AlertGroup)
                .join(IncidentGroup, IncidentGroup.group_id == AlertGroup.id)
                .where(IncidentGroup.incident_id == incident_id)
                .order_by(AlertGroup.id)
            )
        ).all()
    )


def service_label(group: AlertGroup) -> str | None:
    value = {**group.group_labels, **group.common_labels}.get("service")
    return str(value)[:255] if value else None


def group_name(group: AlertGroup) -> str:
    labels = {**group.group_labels, **group.common_labels}
    name = str(labels.get("alertname") or "alert")
    service = labels.get("service")
    return f"{name} · {service}" if service else name


async def view_of(session: AsyncSession, incident: Incident) -> IncidentView:
    groups = await linked_groups(session, incident.id)
    return IncidentView(
        id=incident.id,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        lead=incident.lead,
        started_at=incident.started_at,
        declared_at=incident.declared_at,
        resolved_at=incident.resolved_at,
        channel=incident.channel_id,
        groups=[LinkedGroup(g.id, group_name(g), g.priority, g.status, g.acked_by) for g in groups],
        last_update=incident.last_update,
        last_update_by=incident.last_update_by,
        last_update_at=incident.last_update_at,
    )


async def incident_note(session: AsyncSession, group_id: int) -> str | None:
    """The line on an alert group's message naming its incident (alerts/render.py); a
    group in an incident shows no Declare incident button."""
    incident = await incident_of_group(session, group_id)
    if incident is None:
        return None
    if incident.channel_id:
        return m.GROUP_LINK.format(id=incident.id, channel=incident.channel_id)
    return m.GROUP_IN_INCIDENT.format(id=incident.id)

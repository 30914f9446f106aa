"""Reading an incident's timeline out of the audit log.

The incident's own events have its id as their subject (`incident:<id>`). Around them
the audit log already holds everything else the timeline shows, under the subjects the
other features use: its alert groups' (`alert-group:<id>`: firing, resolving,
acknowledgements, pages, PagerDuty's events, runbook steps) and the approval requests of
changes to its services (`approval:<id>`: /deploy, /shift, /rollback requests, approvals
and outcomes) from an hour before it started until it was resolved. They are read
together, in the order they were recorded.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.approvals.models import ApprovalRequestRow
from bot.incidents import pagerduty, store
from bot.incidents.models import Incident
from bot.storage.models import AuditEvent
from incidents.postmortem import render_json, render_markdown
from incidents.summary import ChangeLine, IncidentView
from incidents.timeline import Entry, describe, entry

CHANGES_BEFORE = timedelta(hours=1)  # changes this long before the start are shown
MAX_EVENTS = 2000  # a timeline longer than this is cut: the audit export has the rest


async def services_of(session: AsyncSession, incident: Incident) -> set[str]:
    services = {incident.service} if incident.service else set()
    for group in await store.linked_groups(session, incident.id):
        service = store.service_label(group)
        if service:
            services.add(service)
    return services


async def change_subjects(session: AsyncSession, incident: Incident, now: datetime) -> list[str]:
    """The approval requests of changes to the incident's services in its window."""
    services = await services_of(session, incident)
    if not services:
        return []
    end = incident.resolved_at or now
    rows = await session.scalars(
        select(ApprovalRequestRow.id).where(
            ApprovalRequestRow.service.in_(services),
            ApprovalRequestRow.created_at >= incident.started_at - CHANGES_BEFORE,
            ApprovalRequestRow.created_at <= end,
        )
    )
    return [f"approval:{row}" for row in rows]


async def timeline(session: AsyncSession, incident: Incident, now: datetime) -> list[Entry]:
    groups = await store.linked_groups(session, incident.id)
    subjects = [store.subject(incident.id), *(f"alert-group:{g.id}" for g in groups)]
    changes = await change_subjects(session, incident, now)
    window_start = incident.started_at - CHANGES_BEFORE
    end = incident.resolved_at or now
    events = await session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.subject.in_([*subjects, *changes]),
            AuditEvent.at >= window_start,
            AuditEvent.at <= end + timedelta(seconds=1),
        )
        .order_by(AuditEvent.id)
        .limit(MAX_EVENTS)
    )
    return [entry(e.at, e.actor, e.action, e.details or {}) for e in events]


async def full_view(session: AsyncSession, incident: Incident, now: datetime) -> IncidentView:
    """The summary's view with the changes to its services (the hour before and during)."""
    view = await store.view_of(session, incident)
    found = await pagerduty.linked(session, [g.id for g in view.groups])
    view = replace(view, pagerduty=pagerduty.describe(found))
    subjects = await change_subjects(session, incident, now)
    if not subjects:
        return view
    events = await session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject.in_(subjects), AuditEvent.action == "operation.requested")
        .order_by(AuditEvent.id)
        .limit(50)
    )
    lines = [ChangeLine(e.at, describe(e.action, e.details or {})) for e in events]
    return replace(view, changes=lines)


async def postmortem(
    session: AsyncSession, incident: Incident, now: datetime, *, as_json: bool = False
) -> str:
    view = await full_view(session, incident, now)
    entries = await timeline(session, incident, now)
    return render_json(view, entries) if as_json else render_markdown(view, entries, now)

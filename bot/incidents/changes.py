"""Changes to a declared incident: lead, severity, status, updates, resolve, actions.

Each runs in one transaction: the incident row, its audit event (its timeline), the
posts in its channel and the broadcast channel, and its summary's in-place update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.slack_text import escape
from bot.audit import trail
from bot.incidents import slack_calls, store, timeline
from bot.incidents.models import Incident
from bot.slack.outbox_queue import enqueue_upload
from incidents import messages as m
from incidents.commands import Change


@dataclass(frozen=True)
class Where:
    """Where an incident's news go, and how often its lead is reminded."""

    broadcast: str | None
    update_every: timedelta
    archive_after: timedelta | None


async def apply(
    session: AsyncSession,
    incident: Incident,
    change: Change,
    *,
    user: str,
    now: datetime,
    where: Where,
) -> None:
    channel = incident.channel_id or ""
    verb, value = change.verb, change.value
    was_mitigated = incident.mitigated_at is not None
    text: str
    if verb == "update":
        incident.last_update, incident.last_update_by, incident.last_update_at = value, user, now
        incident.remind_at = now + where.update_every
        text = m.UPDATE_POST.format(user=user, text=escape(value))
        if where.broadcast:
            await slack_calls.post(
                session,
                where.broadcast,
                m.ANNOUNCE_UPDATE.format(
                    id=incident.id, user=user, text=escape(value), channel=channel
                ),
                now,
            )
    elif verb == "lead":
        incident.lead = value
        text = m.LEAD_POST.format(user=value, actor=user)
        await slack_calls.invite(session, incident.channel_id, [value], now)
    elif verb == "severity":
        incident.severity = value
        text = m.SEVERITY_POST.format(severity=value, actor=user)
    elif verb == "status":
        _set_status(incident, value, now)
        text = m.STATUS_POST.format(status=m.STATUS_WORDS[value], actor=user)
    elif verb == "resolve":
        _set_status(incident, "resolved", now)
        incident.resolution = value or None
        incident.remind_at = None
        if where.archive_after is not None:
            incident.archive_at = now + where.archive_after
        text = m.RESOLVE_POST.format(actor=user, summary=f": {escape(value)}" if value else ".")
    else:  # action
        text = m.ACTION_POST.format(actor=user, text=escape(value))
    trail.record(
        session,
        at=now,
        actor=user,
        action=f"incident.{verb}",
        subject=store.subject(incident.id),
        value=value,
        **_figures(incident, was_mitigated),
    )
    await slack_calls.post(session, channel, text, now)
    await _tell(session, incident, verb, where, now)


async def mitigated_in_pagerduty(
    session: AsyncSession, incident: Incident, *, now: datetime, where: Where
) -> None:
    """PagerDuty resolved every incident of its alerts: Mitigated, for people to resolve."""
    was_mitigated = incident.mitigated_at is not None
    _set_status(incident, "mitigated", now)
    trail.record(
        session,
        at=now,
        actor="pagerduty",
        action="incident.status",
        subject=store.subject(incident.id),
        value="mitigated",
        via="pagerduty",
        **_figures(incident, was_mitigated),
    )
    await slack_calls.post(session, incident.channel_id or "", m.PAGERDUTY_MITIGATED, now)
    await _tell(session, incident, "status", where, now)


async def _tell(
    session: AsyncSession, incident: Incident, verb: str, where: Where, now: datetime
) -> None:
    """The summary in place, the broadcast of a status, the topic, the draft at resolve."""
    view = await timeline.full_view(session, incident, now)
    await slack_calls.refresh_summary(session, view, now)
    if verb == "resolve":
        await _upload_postmortem(session, incident, now)
    if verb in ("status", "resolve"):
        await slack_calls.announce_status(session, view, where.broadcast, now)
    if verb in ("lead", "severity", "status", "resolve"):
        await slack_calls.retopic(session, view, _name(incident.lead), now)


async def _upload_postmortem(session: AsyncSession, incident: Incident, now: datetime) -> None:
    """The draft into the channel, by Slack's external upload flow (as the bake charts)."""
    draft = await timeline.postmortem(session, incident, now)
    await enqueue_upload(
        session,
        channel=incident.channel_id or "",
        content=draft.encode(),
        filename=f"incident-{incident.id}-postmortem.md",
        title=f"Postmortem draft: incident #{incident.id}",
        comment=m.POSTMORTEM_POSTED.format(id=incident.id),
        now=now,
        priority=slack_calls.URGENT,
    )


def _figures(incident: Incident, was_mitigated: bool) -> dict[str, object]:
    """What the time-to figures need (bot/report/live.py): the severity, the start, and
    whether this change is the first mitigation."""
    return {
        "severity": incident.severity,
        "started": incident.started_at.isoformat(),
        "first_mitigation": not was_mitigated and incident.mitigated_at is not None,
    }


def _set_status(incident: Incident, status: str, now: datetime) -> None:
    incident.status = status
    if status == "identified" and incident.identified_at is None:
        incident.identified_at = now
    if status in ("mitigated", "resolved") and incident.mitigated_at is None:
        incident.mitigated_at = now
    if status == "resolved":
        incident.resolved_at = now


def _name(user: str) -> str:
    """The lead as the topic shows it (a topic is plain text: the id, not a mention)."""
    return user or "none"

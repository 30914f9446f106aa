"""The incident summary: the one pinned message of an incident channel, rendered from a
plain view of the incident so that it can be re-rendered in place after every change."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.blocks import MAX_FALLBACK, Block, clip, context, mrkdwn_field, plain_header, section
from alerts.durations import format_duration
from alerts.slack_text import escape
from incidents import messages as m

MAX_GROUPS_SHOWN = 10  # linked alert groups listed; the rest counted
MAX_CHANGES_SHOWN = 10


@dataclass(frozen=True)
class LinkedGroup:
    id: int
    name: str
    priority: str
    status: str  # firing | resolved
    acked_by: str | None = None


@dataclass(frozen=True)
class ChangeLine:
    """A deploy, shift or rollback of an affected service, as the timeline records it."""

    at: datetime
    text: str


@dataclass(frozen=True)
class IncidentView:
    id: int
    title: str
    severity: str
    status: str
    lead: str
    started_at: datetime
    declared_at: datetime
    resolved_at: datetime | None = None
    channel: str | None = None
    groups: list[LinkedGroup] = field(default_factory=list)
    pagerduty: str | None = None
    changes: list[ChangeLine] = field(default_factory=list)
    last_update: str | None = None
    last_update_by: str | None = None
    last_update_at: datetime | None = None


def lead_markup(lead: str) -> str:
    return f"<@{lead}>" if lead else m.NO_LEAD


def status_word(status: str) -> str:
    return m.STATUS_WORDS.get(status, status.capitalize())


def render_summary(view: IncidentView, now: datetime) -> dict[str, Any]:
    """The summary message (text and blocks); everything from outside is escaped."""
    emoji = m.SEVERITY_EMOJI.get(view.severity, "🚨")
    end = view.resolved_at or now
    blocks: list[Block] = [
        plain_header(f"{emoji} Incident #{view.id}: {view.title}"),
        {
            "type": "section",
            "block_id": "incident-summary",
            "fields": [
                mrkdwn_field("Severity", view.severity),
                mrkdwn_field("Status", status_word(view.status)),
                mrkdwn_field("Lead", lead_markup(view.lead)),
                mrkdwn_field("Started", _started(view, end)),
            ],
        },
    ]
    if view.groups:
        lines = [_group_line(g) for g in view.groups[:MAX_GROUPS_SHOWN]]
        if len(view.groups) > MAX_GROUPS_SHOWN:
            lines.append(f"… and {len(view.groups) - MAX_GROUPS_SHOWN} more")
        blocks.append(section("*Alerts*\n" + "\n".join(lines)))
    if view.pagerduty:
        blocks.append(section(f"*PagerDuty*\n{escape(view.pagerduty)}"))
    if view.changes:
        lines = [f"{c.at:%H:%M} {escape(c.text)}" for c in view.changes[-MAX_CHANGES_SHOWN:]]
        blocks.append(section("*Changes (the hour before and during)*\n" + "\n".join(lines)))
    if view.last_update:
        who = f" (<@{view.last_update_by}>)" if view.last_update_by else ""
        blocks.append(section(f"*Last update*{who}\n{escape(view.last_update)}"))
    blocks.append(context(f"incident-{view.id} · declared {view.declared_at:%Y-%m-%d %H:%M} UTC"))
    text = clip(
        f"Incident #{view.id} ({view.severity}, {status_word(view.status)}): {escape(view.title)}",
        MAX_FALLBACK,
    )
    return {"text": text, "blocks": blocks}


def _started(view: IncidentView, end: datetime) -> str:
    unix = int(view.started_at.timestamp())
    shown = f"<!date^{unix}^{{date_short_pretty}} {{time}}|{view.started_at:%Y-%m-%d %H:%M} UTC>"
    return f"{shown} · {format_duration(end - view.started_at)}"


def _group_line(group: LinkedGroup) -> str:
    state = "✅ resolved" if group.status == "resolved" else "🔥 firing"
    acked = f", acknowledged by <@{group.acked_by}>" if group.acked_by else ""
    return f"• {group.priority} {escape(group.name)}: {state}{acked}"


def announcement(view: IncidentView) -> str:
    return m.ANNOUNCE.format(
        emoji=m.SEVERITY_EMOJI.get(view.severity, "🚨"),
        id=view.id,
        severity=view.severity,
        title=escape(view.title),
        channel=view.channel or "",
        lead=lead_markup(view.lead),
    )


def status_announcement(view: IncidentView) -> str:
    return m.ANNOUNCE_STATUS.format(
        emoji=m.SEVERITY_EMOJI.get(view.severity, "🚨"),
        id=view.id,
        status=status_word(view.status),
        title=escape(view.title),
        channel=view.channel or "",
    )


def topic(view: IncidentView, lead_name: str) -> str:
    text = m.TOPIC.format(
        severity=view.severity, status=status_word(view.status), lead_name=lead_name, id=view.id
    )
    return clip(text, 250)  # Slack's topic limit


def purpose(view: IncidentView) -> str:
    return clip(m.PURPOSE.format(id=view.id, title=escape(view.title)), 250)

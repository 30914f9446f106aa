"""A PagerDuty incident that is not one of the bot's pages, as a Slack message (plain data).

Its buttons act on the incident in PagerDuty (bot/pagerduty/incident_events.py posts it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alerts import messages as m
from alerts.blocks import (
    MAX_FALLBACK,
    Block,
    actions,
    button,
    clip,
    context,
    mrkdwn_field,
    plain_header,
)
from alerts.slack_text import escape, link


@dataclass(frozen=True)
class IncidentView:
    incident_id: str
    number: int
    title: str
    status: str
    urgency: str
    service_name: str
    html_url: str
    assignees: str = ""
    note: str | None = None
    escalation_policy: str = ""
    priority: str = ""


def render_incident(incident: IncidentView) -> dict[str, Any]:
    """A PagerDuty incident that is not one of our pages, with buttons acting on it."""
    heading = m.PD_INCIDENT_TITLE.format(
        number=incident.number, status=incident.status.upper(), title=incident.title
    )
    blocks: list[Block] = [
        plain_header(heading),
        {"type": "section", "fields": _fields(incident)},
    ]
    opened = link(incident.html_url, m.LINK_PAGERDUTY)
    notes = [opened] if opened else []
    if incident.note:  # names PagerDuty users: outside text
        notes.append(escape(incident.note))
    if notes:
        blocks.append(context(" · ".join(notes)))
    if incident.status != "resolved":
        buttons: list[Block] = []
        if incident.status != "acknowledged":
            buttons.append(
                button(m.PD_ACK_BUTTON, "pagerduty.ack", incident.incident_id, style="primary")
            )
        buttons.append(button(m.PD_RESOLVE_BUTTON, "pagerduty.resolve", incident.incident_id))
        blocks.append(actions(f"pd-{incident.incident_id}", buttons))
    # The header is plain_text (no markup); the fallback text is parsed like mrkdwn.
    return {"text": clip(escape(heading), MAX_FALLBACK), "blocks": blocks}


def _fields(incident: IncidentView) -> list[Block]:
    fields = [mrkdwn_field("Service", escape(incident.service_name))]
    fields.append(mrkdwn_field("Urgency", escape(incident.urgency)))
    if incident.assignees:
        fields.append(mrkdwn_field("Assigned", escape(incident.assignees)))
    if incident.escalation_policy:
        fields.append(mrkdwn_field("Escalation policy", escape(incident.escalation_policy)))
    if incident.priority:
        fields.append(mrkdwn_field("Priority", escape(incident.priority)))
    return fields

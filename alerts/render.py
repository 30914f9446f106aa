"""Rendering an alert group as a Slack Block Kit message (plain data, no Slack calls).

Slack rejects a message with more than 50 blocks or a section over 3,000 characters, and
a rejected alert is a lost alert, so everything here is clipped to those limits: large
groups show their first alerts and "+N more".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from alerts import messages as m
from alerts.durations import format_duration
from alerts.escalation import PAGERDUTY_ACTOR
from alerts.slack_text import escape, inline_code, join_url, link, web_url

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_CONTEXT_ELEMENT = 2000
MAX_FALLBACK = 3000
MAX_IMAGE_URL = 3000
LABELS_THAT_MATTER = ("service", "namespace", "instance", "job", "cluster", "team")

Block = dict[str, Any]


@dataclass(frozen=True)
class AlertView:
    name: str
    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""
    # Grafana's links and values (alerts/grafana.py), and "start_assumed"
    # (bot/alerts/notification.py).
    extras: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupView:
    id: int
    status: str
    priority: str
    alerts: list[AlertView]
    group_labels: Mapping[str, str] = field(default_factory=dict)
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""
    firing_since: datetime | None = None
    resolved_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    truncated_alerts: int = 0
    mention: str | None = None
    runbook_id: str | None = None
    pagerduty: str | None = None  # "📟 Paged PagerDuty", "Acknowledged in PagerDuty by ..."
    # A large group's view holds only its first alerts; these count all of them.
    alert_count: int | None = None
    firing_count: int | None = None
    source: str = "alertmanager"  # or "grafana"

    @property
    def total(self) -> int:
        return len(self.alerts) if self.alert_count is None else self.alert_count

    @property
    def firing(self) -> int:
        if self.firing_count is None:
            return sum(1 for a in self.alerts if a.status == "firing")
        return self.firing_count


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mention_markup(principal: str) -> str:
    """Slack markup that notifies a user (U.../W...) or a user group (S...)."""
    return f"<!subteam^{principal}>" if principal.startswith("S") else f"<@{principal}>"


def _date(moment: datetime, pattern: str, **values: Any) -> str:
    return pattern.format(
        unix=int(moment.timestamp()), fallback=moment.strftime("%Y-%m-%d %H:%M UTC"), **values
    )


def title(group: GroupView) -> str:
    name = group.common_labels.get("alertname") or (group.alerts[0].name if group.alerts else "")
    return name or "Alert"


def silence_url(group: GroupView) -> str | None:
    """Alertmanager's "new silence" page for the group (its UI routes in the fragment)."""
    if not group.external_url or group.source == "grafana":
        return None  # Grafana sends its own silence link per alert
    labels = group.group_labels or group.common_labels
    matchers = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    fragment = "/silences/new?filter=" + quote("{" + matchers + "}", safe="")
    return join_url(group.external_url, "/", fragment=fragment)


def _links(group: GroupView) -> list[str]:
    source = next((a.generator_url for a in group.alerts if a.generator_url), "")
    runbook_url = group.common_annotations.get("runbook_url") or next(
        (a.annotations.get("runbook_url", "") for a in group.alerts), ""
    )
    candidates = [
        link(source, m.LINK_SOURCE),
        link(runbook_url, m.LINK_RUNBOOK_DOC),
        link(silence_url(group) or "", m.LINK_SILENCE),
    ]
    for key, label in (
        ("dashboard_url", m.GRAFANA_DASHBOARD),
        ("panel_url", m.GRAFANA_PANEL),
        ("silence_url", m.GRAFANA_SILENCE),
    ):
        url = next((a.extras[key] for a in group.alerts if a.extras.get(key)), "")
        candidates.append(link(url, label))
    return [found for found in candidates if found]


def values_text(alert: AlertView) -> str:
    """Grafana's query values, as "B=44.24, C=1" (or its older valueString)."""
    values = alert.extras.get("values")
    if isinstance(values, Mapping) and values:
        return ", ".join(f"{name}={value}" for name, value in values.items())
    return str(alert.extras.get("value_string") or "")


def _image(group: GroupView) -> Block | None:
    found = next((a.extras["image_url"] for a in group.alerts if a.extras.get("image_url")), "")
    # Slack refuses the whole message for an image URL it cannot use: only http(s), and
    # within its length limit, or no image at all (the alert itself must get through).
    url = web_url(str(found))
    if url is None or len(url) > MAX_IMAGE_URL:
        return None
    return {"type": "image", "image_url": url, "alt_text": m.GRAFANA_IMAGE}


def _alert_line(alert: AlertView, now: datetime) -> str:
    icon = m.RESOLVED_ICON if alert.status == "resolved" else "•"
    where = alert.labels.get("instance") or alert.labels.get("pod") or alert.labels.get("service")
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    age = format_duration((alert.ends_at or now) - alert.starts_at)
    parts = [f"{icon} *{escape(alert.name or 'alert')}*"]
    if where:
        parts.append(inline_code(where))
    if summary:
        parts.append(f"— {escape(summary)}")
    values = values_text(alert)
    if values:
        parts.append(inline_code(clip(values, 200)))
    assumed = f", {m.START_NOT_SENT}" if alert.extras.get("start_assumed") else ""
    parts.append(f"_({alert.status} {age}{assumed})_")
    return " ".join(parts)


def render_group(group: GroupView, now: datetime, *, max_alerts: int = 10) -> dict[str, Any]:
    """The whole message: {"text": fallback, "blocks": [...]} within Slack's limits."""
    resolved = group.status == "resolved"
    icon = m.RESOLVED_ICON if resolved else m.PRIORITY_ICON.get(group.priority, "⚪")
    state = m.RESOLVED if resolved else m.FIRING
    name = title(group)
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": clip(f"{icon} {group.priority} · {state} · {name}", MAX_HEADER),
                "emoji": True,
            },
        }
    ]

    first = group.alerts[0] if group.alerts else None
    summary = group.common_annotations.get("summary") or (
        first.annotations.get("summary", "") if first else ""
    )
    description = group.common_annotations.get("description") or (
        first.annotations.get("description", "") if first and len(group.alerts) == 1 else ""
    )
    body = []
    if group.mention and not resolved:
        body.append(mention_markup(group.mention))
    if summary:
        body.append(f"*{escape(summary)}*")
    if description:
        body.append(escape(description))
    if first is not None and group.total == 1:
        values = values_text(first)
        if values:
            body.append(f"*{m.VALUES}* {inline_code(clip(values, 500))}")
        if first.extras.get("start_assumed"):
            body.append(f"_{m.START_NOT_SENT}_")
    if body:
        blocks.append(
            _section(" ".join(body[:1]) + ("\n" + "\n".join(body[1:]) if len(body) > 1 else ""))
        )

    fields = _fields(group, now)
    if fields:
        blocks.append({"type": "section", "fields": fields})

    hidden = 0
    if group.total > 1:
        shown = group.alerts[:max_alerts]
        lines = [_alert_line(a, now) for a in shown]
        blocks.extend(packed_sections(lines))
        hidden = group.total - len(shown)
        if hidden:
            blocks.append(_context(m.MORE_ALERTS_PAGED.format(count=f"{hidden:,}")))
    if group.truncated_alerts:
        blocks.append(
            _context(m.TRUNCATED_BY_ALERTMANAGER.format(count=f"{group.truncated_alerts:,}"))
        )

    image = _image(group)
    if image is not None:
        blocks.append(image)
    links = _links(group)
    if links:
        blocks.append(_context(" · ".join(links)))
    status_line = _status_line(group, now)
    if status_line:
        blocks.append(_context(status_line))

    if not resolved and not group.runbook_id:
        blocks.append(_context(m.NO_RUNBOOK))
    if not resolved:
        buttons: list[Block] = []
        if not group.acked_by:
            buttons.append(button(m.ACK_BUTTON, "alert.ack", str(group.id), style="primary"))
        buttons.append(button(m.SILENCE_BUTTON, "alert.silence", str(group.id)))
        if group.runbook_id:
            buttons.append(button(m.RUNBOOK_BUTTON, "runbook.open", str(group.id)))
        if hidden:
            buttons.append(button(m.SHOW_ALL_BUTTON, "alert.page", f"{group.id}:0"))
        blocks.append(
            {"type": "actions", "block_id": f"alert-actions-{group.id}", "elements": buttons}
        )
    elif hidden:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"alert-actions-{group.id}",
                "elements": [button(m.SHOW_ALL_BUTTON, "alert.page", f"{group.id}:0")],
            }
        )

    if len(blocks) > MAX_BLOCKS:  # defensive: the layout above stays far below it
        blocks = [*blocks[: MAX_BLOCKS - 1], _context(m.MORE_ALERTS.format(count="more"))]
    fallback = f"[{group.priority}] {state} {escape(name)}" + (
        f": {escape(summary)}" if summary else ""
    )
    return {"text": clip(fallback, MAX_FALLBACK), "blocks": blocks}


def _fields(group: GroupView, now: datetime) -> list[Block]:
    fields: list[Block] = [{"type": "mrkdwn", "text": f"*Priority*\n{group.priority}"}]
    for label in LABELS_THAT_MATTER:
        value = group.common_labels.get(label)
        if value:
            fields.append(
                {
                    "type": "mrkdwn",
                    "text": clip(f"*{label.capitalize()}*\n{escape(value)}", MAX_FIELD),
                }
            )
    if group.total > 1:
        fields.append(
            {"type": "mrkdwn", "text": f"*Alerts*\n{group.firing:,} firing / {group.total:,}"}
        )
    return fields[:10]


def _status_line(group: GroupView, now: datetime) -> str:
    parts: list[str] = []
    if group.status == "resolved" and group.resolved_at and group.firing_since:
        parts.append(
            m.RESOLVED_AFTER.format(
                duration=format_duration(group.resolved_at - group.firing_since)
            )
        )
    elif group.firing_since:
        parts.append(
            _date(
                group.firing_since,
                m.FIRING_SINCE,
                duration=format_duration(now - group.firing_since),
            )
        )
    if group.acked_by and group.acked_at and group.acked_by != PAGERDUTY_ACTOR:
        parts.append(_date(group.acked_at, m.ACKED_BY, user=group.acked_by))
    if group.pagerduty:  # may name a PagerDuty user: outside text
        parts.append(escape(group.pagerduty))
    if group.source == "grafana":
        parts.append(m.SOURCE_GRAFANA)
    return " · ".join(parts)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}


PAGE_LINE = 400  # a page of 100 lines then packs into at most ~15 sections


def render_alert_page(
    group_id: int, alerts: list[AlertView], *, offset: int, total: int, now: datetime
) -> dict[str, Any]:
    """One page of a group's alerts, posted in its thread by "Show all alerts"."""
    if not alerts:
        return {"text": m.ALERT_PAGE_EMPTY, "blocks": [_section(m.ALERT_PAGE_EMPTY)]}
    heading = m.ALERT_PAGE_TITLE.format(
        first=f"{offset + 1:,}", last=f"{offset + len(alerts):,}", total=f"{total:,}"
    )
    lines = [clip(_alert_line(a, now), PAGE_LINE) for a in alerts]
    blocks: list[Block] = [_section(heading), *packed_sections(lines)]
    following = offset + len(alerts)
    if following < total:
        label = m.NEXT_PAGE_BUTTON.format(count=f"{min(len(alerts), total - following):,}")
        blocks.append(
            {
                "type": "actions",
                "block_id": f"alert-page-{group_id}-{following}",
                "elements": [button(label, "alert.page", f"{group_id}:{following}")],
            }
        )
    return {"text": heading.replace("*", ""), "blocks": blocks[:MAX_BLOCKS]}


def packed_sections(lines: list[str]) -> list[Block]:
    """Pack lines into as few sections as fit in 3,000 characters each."""
    sections: list[Block] = []
    current = ""
    for line in lines:
        line = clip(line, MAX_SECTION)
        if current and len(current) + 1 + len(line) > MAX_SECTION:
            sections.append(_section(current))
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        sections.append(_section(current))
    return sections


def _context(text: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(text, MAX_CONTEXT_ELEMENT)}],
    }


def button(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


@dataclass(frozen=True)
class DigestItem:
    group_id: int
    priority: str
    status: str
    name: str
    summary: str
    firing_since: datetime
    resolved_at: datetime | None = None


def render_digest(items: list[DigestItem], now: datetime, *, every: str) -> dict[str, Any]:
    """One message per channel gathering the low-priority groups, rewritten in place."""
    firing = [item for item in items if item.status == "firing"]
    lines = []
    for item in items:
        icon = m.RESOLVED_ICON if item.status != "firing" else "•"
        age = format_duration((item.resolved_at or now) - item.firing_since)
        summary = f" — {escape(item.summary)}" if item.summary else ""
        lines.append(f"{icon} *{escape(item.name)}*{summary} _({item.status} {age})_")
    title_text = m.DIGEST_TITLE.format(count=len(firing))
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(title_text, MAX_HEADER)}}
    ]
    if lines:
        shown = packed_sections(lines)[: MAX_BLOCKS - 3]
        blocks.extend(shown)
    else:
        blocks.append(_section(m.DIGEST_EMPTY))
    blocks.append(_context(m.DIGEST_FOOTER.format(every=every)))
    return {"text": clip(title_text, MAX_FALLBACK), "blocks": blocks}


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
    status = incident.status.upper()
    heading = m.PD_INCIDENT_TITLE.format(
        number=incident.number, status=status, title=incident.title
    )
    fields: list[Block] = [
        {
            "type": "mrkdwn",
            "text": clip(f"*Service*\n{escape(incident.service_name)}", MAX_FIELD),
        },
        {"type": "mrkdwn", "text": f"*Urgency*\n{escape(incident.urgency)}"},
    ]
    if incident.assignees:
        fields.append(
            {
                "type": "mrkdwn",
                "text": clip(f"*Assigned*\n{escape(incident.assignees)}", MAX_FIELD),
            }
        )
    if incident.escalation_policy:
        fields.append(
            {
                "type": "mrkdwn",
                "text": clip(
                    f"*Escalation policy*\n{escape(incident.escalation_policy)}", MAX_FIELD
                ),
            }
        )
    if incident.priority:
        fields.append(
            {"type": "mrkdwn", "text": clip(f"*Priority*\n{escape(incident.priority)}", MAX_FIELD)}
        )
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(heading, MAX_HEADER)}},
        {"type": "section", "fields": fields},
    ]
    opened = link(incident.html_url, m.LINK_PAGERDUTY)
    context = [opened] if opened else []
    if incident.note:  # names PagerDuty users: outside text
        context.append(escape(incident.note))
    if context:
        blocks.append(_context(" · ".join(context)))
    if incident.status != "resolved":
        buttons: list[Block] = []
        if incident.status != "acknowledged":
            buttons.append(
                button(m.PD_ACK_BUTTON, "pagerduty.ack", incident.incident_id, style="primary")
            )
        buttons.append(button(m.PD_RESOLVE_BUTTON, "pagerduty.resolve", incident.incident_id))
        blocks.append(
            {"type": "actions", "block_id": f"pd-{incident.incident_id}", "elements": buttons}
        )
    # The header is plain_text (no markup); the fallback text is parsed like mrkdwn.
    return {"text": clip(escape(heading), MAX_FALLBACK), "blocks": blocks}

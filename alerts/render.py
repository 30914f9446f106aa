"""An alert group as a Slack Block Kit message, and its pages of alerts (plain data).

Everything is clipped to Slack's limits (alerts/blocks.py): a rejected alert is a lost
alert, so large groups show their first alerts, "+N more" and a button to page through
the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from alerts import messages as m
from alerts.alertmanager import UNREPORTED
from alerts.blocks import (
    MAX_BLOCKS,
    MAX_FALLBACK,
    MAX_HEADER,
    MAX_IMAGE_URL,
    OPTIONAL_BLOCK_ID,
    Block,
    actions,
    button,
    clip,
    context,
    mention_markup,
    mrkdwn_field,
    packed_sections,
    section,
)
from alerts.durations import format_duration
from alerts.escalation import PAGERDUTY_ACTOR
from alerts.slack_text import escape, inline_code, join_url, link, web_url

LABELS_THAT_MATTER = ("service", "namespace", "instance", "job", "cluster", "team")


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
    oncall: str | None = None  # "<@U...>, ...": mrkdwn, escaped by its maker (bot/oncall/)
    # A large group's view holds only its first alerts; these count all of them.
    alert_count: int | None = None
    firing_count: int | None = None
    # Alerts Alertmanager left out of a later notification (silenced or inhibited there).
    unreported_count: int | None = None
    source: str = "alertmanager"  # or "grafana"
    # Declared incidents (bot/incidents): the group's incident, or None; P0/P1 groups in
    # none get a Declare incident button.
    incident: str | None = None

    @property
    def total(self) -> int:
        return len(self.alerts) if self.alert_count is None else self.alert_count

    @property
    def firing(self) -> int:
        if self.firing_count is None:
            return sum(1 for a in self.alerts if a.status == "firing")
        return self.firing_count

    @property
    def unreported(self) -> int:
        if self.unreported_count is None:
            return sum(1 for a in self.alerts if a.status == UNREPORTED)
        return self.unreported_count

    @property
    def muted(self) -> bool:
        """Firing for Alertmanager's last word on it, yet none of its alerts is reported."""
        return self.status == "firing" and self.firing == 0 and self.unreported > 0


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
    return {
        "type": "image",
        "block_id": f"{OPTIONAL_BLOCK_ID}image",
        "image_url": url,
        "alt_text": m.GRAFANA_IMAGE,
    }


def _alert_line(alert: AlertView, now: datetime) -> str:
    icon = {"resolved": m.RESOLVED_ICON, UNREPORTED: m.UNREPORTED_ICON}.get(alert.status, "•")
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
    status = m.UNREPORTED_STATUS if alert.status == UNREPORTED else alert.status
    parts.append(f"_({status} {age}{assumed})_")
    return " ".join(parts)


def render_group(group: GroupView, now: datetime, *, max_alerts: int = 10) -> dict[str, Any]:
    """The whole message: {"text": fallback, "blocks": [...]} within Slack's limits."""
    resolved = group.status == "resolved"
    state = m.RESOLVED if resolved else m.NOT_REPORTED if group.muted else m.FIRING
    blocks: list[Block] = [_header(group, state)]
    summary, body = _summary(group)
    if body:
        blocks.append(
            section(" ".join(body[:1]) + ("\n" + "\n".join(body[1:]) if len(body) > 1 else ""))
        )
    fields = _fields(group)
    if fields:
        blocks.append({"type": "section", "fields": fields})
    alert_list, hidden = _alert_list(group, now, max_alerts)
    blocks.extend(alert_list)
    blocks.extend(_notes(group, now))
    blocks.extend(_actions(group, hidden))
    if len(blocks) > MAX_BLOCKS:  # defensive: the layout above stays far below it
        blocks = [*blocks[: MAX_BLOCKS - 1], context(m.MORE_ALERTS.format(count="more"))]
    fallback = f"[{group.priority}] {state} {escape(title(group))}" + (
        f": {escape(summary)}" if summary else ""
    )
    return {"text": clip(fallback, MAX_FALLBACK), "blocks": blocks}


def _header(group: GroupView, state: str) -> Block:
    resolved = group.status == "resolved"
    icon = m.RESOLVED_ICON if resolved else m.PRIORITY_ICON.get(group.priority, "⚪")
    if group.muted:
        icon = m.UNREPORTED_ICON
    return {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": clip(f"{icon} {group.priority} · {state} · {title(group)}", MAX_HEADER),
            "emoji": True,
        },
    }


def _summary(group: GroupView) -> tuple[str, list[str]]:
    """The group's summary, and the lines under the header: whom it is for, the summary
    in bold, the description, and a single alert's values."""
    first = group.alerts[0] if group.alerts else None
    summary = group.common_annotations.get("summary") or (
        first.annotations.get("summary", "") if first else ""
    )
    description = group.common_annotations.get("description") or (
        first.annotations.get("description", "") if first and len(group.alerts) == 1 else ""
    )
    body = []
    if group.mention and group.status != "resolved":
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
    return summary, body


def _alert_list(group: GroupView, now: datetime, max_alerts: int) -> tuple[list[Block], int]:
    """A group's first alerts, one line each, and how many are not shown."""
    blocks: list[Block] = []
    hidden = 0
    if group.total > 1:
        shown = group.alerts[:max_alerts]
        blocks.extend(packed_sections([_alert_line(a, now) for a in shown]))
        hidden = group.total - len(shown)
        if hidden:
            blocks.append(context(m.MORE_ALERTS_PAGED.format(count=f"{hidden:,}")))
    if group.unreported:
        blocks.append(context(m.UNREPORTED_NOTE.format(count=f"{group.unreported:,}")))
    if group.truncated_alerts:
        blocks.append(
            context(m.TRUNCATED_BY_ALERTMANAGER.format(count=f"{group.truncated_alerts:,}"))
        )
    return blocks, hidden


def _notes(group: GroupView, now: datetime) -> list[Block]:
    """Below the alerts: Grafana's image, the links, the status line, a missing runbook."""
    blocks: list[Block] = []
    image = _image(group)
    if image is not None:
        blocks.append(image)
    links = _links(group)
    if links:
        blocks.append(context(" · ".join(links)))
    status_line = _status_line(group, now)
    if status_line:
        blocks.append(context(status_line))
    if group.incident:
        blocks.append(context(group.incident))
    if group.status != "resolved" and not group.runbook_id:
        blocks.append(context(m.NO_RUNBOOK))
    return blocks


def _actions(group: GroupView, hidden: int) -> list[Block]:
    """The buttons: acting on a firing group, and paging through a large one's alerts."""
    show_all = button(m.SHOW_ALL_BUTTON, "alert.page", f"{group.id}:0")
    block_id = f"alert-actions-{group.id}"
    if group.status == "resolved":
        return [actions(block_id, [show_all])] if hidden else []
    buttons: list[Block] = []
    if not group.acked_by:
        buttons.append(button(m.ACK_BUTTON, "alert.ack", str(group.id), style="primary"))
    buttons.append(button(m.SILENCE_BUTTON, "alert.silence", str(group.id)))
    if group.runbook_id:
        buttons.append(button(m.RUNBOOK_BUTTON, "runbook.open", str(group.id)))
    if group.priority in ("P0", "P1") and group.incident is None:
        buttons.append(button(m.DECLARE_INCIDENT_BUTTON, "incident.declare", str(group.id)))
    if hidden:
        buttons.append(show_all)
    return [actions(block_id, buttons)]


def _fields(group: GroupView) -> list[Block]:
    fields: list[Block] = [mrkdwn_field("Priority", group.priority)]
    for label in LABELS_THAT_MATTER:
        value = group.common_labels.get(label)
        if value:
            fields.append(mrkdwn_field(label.capitalize(), escape(value)))
    if group.total > 1:
        counts = f"{group.firing:,} firing / {group.total:,}"
        if group.unreported:
            counts += " · " + m.UNREPORTED_FIELD.format(count=f"{group.unreported:,}")
        fields.append(mrkdwn_field("Alerts", counts))
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
    if group.oncall and group.status == "firing":
        parts.append(m.ON_CALL.format(people=group.oncall))
    if group.source == "grafana":
        parts.append(m.SOURCE_GRAFANA)
    return " · ".join(parts)


PAGE_LINE = 400  # a page of 100 lines then packs into at most ~15 sections


def render_alert_page(
    group_id: int, alerts: list[AlertView], *, offset: int, total: int, now: datetime
) -> dict[str, Any]:
    """One page of a group's alerts, posted in its thread by "Show all alerts"."""
    if not alerts:
        return {"text": m.ALERT_PAGE_EMPTY, "blocks": [section(m.ALERT_PAGE_EMPTY)]}
    heading = m.ALERT_PAGE_TITLE.format(
        first=f"{offset + 1:,}", last=f"{offset + len(alerts):,}", total=f"{total:,}"
    )
    lines = [clip(_alert_line(a, now), PAGE_LINE) for a in alerts]
    blocks: list[Block] = [section(heading), *packed_sections(lines)]
    following = offset + len(alerts)
    if following < total:
        label = m.NEXT_PAGE_BUTTON.format(count=f"{min(len(alerts), total - following):,}")
        next_page = button(label, "alert.page", f"{group_id}:{following}")
        blocks.append(actions(f"alert-page-{group_id}-{following}", [next_page]))
    return {"text": heading.replace("*", ""), "blocks": blocks[:MAX_BLOCKS]}

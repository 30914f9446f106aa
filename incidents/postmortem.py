"""The postmortem draft of an incident: Markdown for people, JSON for tools.

Written from the incident's view and its timeline (incidents/timeline.py) at resolve, and
by `chatops incidents export`. Text from outside is escaped for Markdown so an alert
name or an update cannot add links, images or headings to the document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from alerts.durations import format_duration
from incidents.summary import IncidentView, status_word
from incidents.timeline import Entry

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def md(text: str) -> str:
    """`text` as literal Markdown on one line."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def who(actor: str) -> str:
    return "bot" if actor == "system" else md(actor)


def render_markdown(view: IncidentView, entries: Sequence[Entry], now: datetime) -> str:
    end = view.resolved_at or now
    lines = [
        f"# Postmortem draft: incident #{view.id}: {md(view.title)}",
        "",
        "## Summary",
        "",
        md(view.last_update or "(to be written)"),
        "",
        "## Impact",
        "",
        f"- Severity: {view.severity}; status: {status_word(view.status)}",
        f"- Started: {view.started_at:%Y-%m-%d %H:%M} UTC; declared: "
        f"{view.declared_at:%Y-%m-%d %H:%M} UTC; "
        f"duration: {format_duration(end - view.started_at)}",
        f"- Lead: {who(view.lead) if view.lead else 'none'}",
    ]
    for group in view.groups:
        lines.append(f"- Alert: {group.priority} {md(group.name)} ({group.status})")
    lines += ["", "## Timeline", ""]
    lines += [_line(e) for e in entries] or ["(nothing recorded)"]
    lines += ["", "## Changes before and during", ""]
    lines += [_line(e) for e in entries if e.is_change] or ["(none)"]
    lines += ["", "## What the runbooks did", ""]
    lines += [_line(e) for e in entries if e.is_runbook] or ["(none)"]
    lines += ["", "## Action items", ""]
    lines += [
        f"- [ ] {md(str(e.details.get('value', '')))} ({who(e.actor)})"
        for e in entries
        if e.action == "incident.action"
    ] or ["(none yet)"]
    return "\n".join(lines) + "\n"


def _line(e: Entry) -> str:
    return f"- {e.at:%Y-%m-%d %H:%M:%S} UTC · {who(e.actor)} · {md(e.text)}"


def render_json(view: IncidentView, entries: Sequence[Entry]) -> str:
    data: dict[str, Any] = {
        "id": view.id,
        "title": view.title,
        "severity": view.severity,
        "status": view.status,
        "lead": view.lead,
        "started_at": view.started_at.isoformat(),
        "declared_at": view.declared_at.isoformat(),
        "resolved_at": view.resolved_at.isoformat() if view.resolved_at else None,
        "channel": view.channel,
        "groups": [
            {"id": g.id, "name": g.name, "priority": g.priority, "status": g.status}
            for g in view.groups
        ],
        "timeline": [
            {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "text": e.text}
            for e in entries
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

"""An incident's timeline as people read it: one line per audit event.

The audit log is the source (bot/incidents/timeline.py reads it); here each event
becomes a sentence. Event details come partly from outside (alert names, update text),
so the sentence is plain text and each renderer escapes it for where it is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_DETAIL = 300  # characters of one detail shown; the audit log keeps it whole

_SENTENCES = {
    "incident.declared": "Incident declared ({severity}): {title}",
    "incident.update": "Update: {value}",
    "incident.lead": "Lead is now {value}",
    "incident.severity": "Severity is now {value}",
    "incident.status": "Status is now {value}",
    "incident.resolve": "Resolved{value_suffix}",
    "incident.action": "Follow-up: {value}",
    "alert.opened": "Alert fired: {alertname} ({priority})",
    "alert.refired": "Alert fired again",
    "alert.resolved": "Alert resolved",
    "alert.acknowledged": "Alert acknowledged",
    "alert.silenced": "Alert silenced",
    "escalation.paged": "Paged PagerDuty ({priority})",
    "escalation.renotified": "On-call notified again",
    "escalation.reminded": "Reminder posted",
    "operation.requested": "Change requested: {command}",
    "operation.started": "Change started: {command}",
    "operation.finished": "Change finished: {outcome}",
    "runbook.opened": "Runbook opened",
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    action: str
    text: str
    details: Mapping[str, Any]

    @property
    def is_change(self) -> bool:
        return self.action.startswith("operation.")

    @property
    def is_runbook(self) -> bool:
        return self.action.startswith("runbook.")


class _Details(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def describe(action: str, details: Mapping[str, Any]) -> str:
    values = _Details({k: _short(v) for k, v in details.items()})
    value = values.get("value", "")
    values["value_suffix"] = f": {value}" if value else ""
    pattern = _SENTENCES.get(action)
    if pattern is not None:
        return pattern.format_map(values)
    shown = ", ".join(f"{k}={v}" for k, v in sorted(values.items()) if k != "value_suffix")
    return f"{action} ({shown})" if shown else action


def entry(at: datetime, actor: str, action: str, details: Mapping[str, Any]) -> Entry:
    return Entry(at, actor, action, describe(action, details), dict(details))


def _short(value: object) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"

"""What Grafana alerting's webhook contact point adds to Alertmanager's shape.

Grafana posts version "1" of the same notification, plus a top-level `state`
("alerting" or "ok"), `orgId`, `title` and `message`, and per alert the links a
responder wants (silence, dashboard, panel, image) and the query values that fired
(`values`, or `valueString` in older versions). Links are kept only when they are
http(s): they end up in Slack buttons and image blocks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from alerts.slack_text import web_url

MAX_URL = 2000  # Slack refuses longer link and image URLs in blocks
MAX_VALUES = 10
MAX_VALUE_STRING = 500

# Grafana's top-level state, in the words of Alertmanager's status.
_STATE_STATUS = {"alerting": "firing", "firing": "firing", "ok": "resolved", "normal": "resolved"}
_LINKS = (
    ("silenceURL", "silence_url"),
    ("dashboardURL", "dashboard_url"),
    ("panelURL", "panel_url"),
    ("imageURL", "image_url"),
)


def status_of_state(state: object) -> str | None:
    return _STATE_STATUS.get(state.strip().lower()) if isinstance(state, str) else None


def _web_url(value: object) -> str | None:
    """An http(s) URL short enough for a Slack block, percent-encoded; else None."""
    if not isinstance(value, str) or len(value) > MAX_URL:
        return None
    return web_url(value)


def alert_extras(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Grafana's per-alert fields that the message shows; absent ones are left out."""
    extras: dict[str, Any] = {}
    for sent, kept in _LINKS:
        url = _web_url(raw.get(sent))
        if url is not None:
            extras[kept] = url
    values = raw.get("values")
    if isinstance(values, Mapping):
        shown = {
            str(name): text
            for name, value in list(values.items())[:MAX_VALUES]
            if (text := format_value(value)) is not None
        }
        if shown:
            extras["values"] = shown
    value_string = raw.get("valueString")
    if isinstance(value_string, str) and value_string.strip():
        extras["value_string"] = value_string.strip()[:MAX_VALUE_STRING]
    return extras


def format_value(value: object) -> str | None:
    """A query value as people read it: 44.23943737541908 -> "44.24"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}" if abs(value) >= 1 else f"{value:.3g}"
    if isinstance(value, str) and value:
        return value[:60]
    return None

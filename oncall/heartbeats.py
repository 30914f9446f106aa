"""Heartbeats: when one is late, which alerts are heartbeat signals, and what is said.

A heartbeat is late once `every + grace` has passed since its last signal; one never
seen counts from when the bot started watching it, so a signal that never arrives is
noticed exactly like one that stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from alerts.blocks import section
from alerts.durations import format_duration
from alerts.slack_text import escape
from oncall.config import HeartbeatConfig

LATE = (
    ":rotating_light: Heartbeat *{name}* is late: {since}, expected every {every} "
    "(grace {grace}). Alerting itself may be broken: paging PagerDuty at {priority}."
)
SINCE_SEEN = "no signal for {silent} (last at {at})"
SINCE_START = "no signal in the {silent} since the bot started watching it"
BACK = ":white_check_mark: Heartbeat *{name}* is back after {silent} of silence."


def due_after(heartbeat: HeartbeatConfig, last: datetime) -> datetime:
    """When a heartbeat whose last signal (or start of watching) was `last` is late."""
    return last + heartbeat.allowed_silence


def due_at_start(heartbeat: HeartbeatConfig, last: datetime, now: datetime) -> datetime:
    """The due time a starting bot keeps: the stored one, unless it passed while no
    replica was running to hear signals; then the silence counts from this start, since
    what arrived while the bot was down is unknown (not known to be missing)."""
    due = due_after(heartbeat, last)
    return due if due > now else due_after(heartbeat, now)


def signals_in(
    heartbeats: Iterable[HeartbeatConfig], alerts: Iterable[tuple[Mapping[str, str], bool]]
) -> tuple[set[str], list[int]]:
    """Given (labels, firing) per alert: the names of the heartbeats signalled, and the
    indexes of every alert a heartbeat takes. A resolved match (the Watchdog stopped) is
    taken, so it is not posted as an alert, but it is no signal."""
    matchers = [(h.name, tuple(h.match.items())) for h in heartbeats if h.match]
    names: set[str] = set()
    taken: list[int] = []
    if not matchers:
        return names, taken
    for index, (labels, firing) in enumerate(alerts):
        for name, items in matchers:
            # Most alerts differ in their first label (alertname): one lookup each.
            for key, value in items:
                if labels.get(key) != value:
                    break
            else:
                if firing:
                    names.add(name)
                taken.append(index)
                break
    return names, taken


def _name(heartbeat: HeartbeatConfig) -> str:
    return escape(heartbeat.name)


def late_message(
    heartbeat: HeartbeatConfig, last_seen: datetime | None, since: datetime, now: datetime
) -> dict[str, Any]:
    """The channel message for a late heartbeat; `since` is its last signal or start."""
    silent = format_duration(now - since)
    when = (
        SINCE_SEEN.format(silent=silent, at=last_seen.strftime("%Y-%m-%d %H:%M:%S UTC"))
        if last_seen is not None
        else SINCE_START.format(silent=silent)
    )
    text = LATE.format(
        name=_name(heartbeat),
        since=when,
        every=format_duration(heartbeat.every),
        grace=format_duration(heartbeat.grace),
        priority=heartbeat.priority,
    )
    return {"text": text, "blocks": [section(text)]}


def back_message(heartbeat: HeartbeatConfig, silent: timedelta) -> dict[str, Any]:
    text = BACK.format(name=_name(heartbeat), silent=format_duration(silent))
    return {"text": text, "blocks": [section(text)]}


def page_summary(heartbeat: HeartbeatConfig) -> str:
    return (
        f"[{heartbeat.priority}] Heartbeat {heartbeat.name} is late: no signal for "
        f"{format_duration(heartbeat.allowed_silence)}"
    )

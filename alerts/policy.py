"""Deciding an alert group's priority and channel from its labels and the config."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from alerts.config import (
    DEFAULT_SEVERITIES,
    PRIORITIES,
    AlertsConfig,
    EscalationPolicy,
    Priority,
    Route,
)


class PriorityRules(Protocol):
    """The part of `alerts:` that derives a priority; AlertsConfig is one."""

    @property
    def priority_label(self) -> str: ...
    @property
    def severity_label(self) -> str: ...
    @property
    def severity_map(self) -> Mapping[str, Priority]: ...
    @property
    def default_priority(self) -> Priority: ...


@dataclass(frozen=True)
class DefaultPriorityRules:
    """AlertsConfig's defaults, for callers that have no config file at hand."""

    priority_label: str = "priority"
    severity_label: str = "severity"
    severity_map: Mapping[str, Priority] = field(default_factory=lambda: dict(DEFAULT_SEVERITIES))
    default_priority: Priority = "P2"


def priority_of(labels: Mapping[str, str], config: PriorityRules) -> Priority:
    """A `priority` label holding P0..P3 wins, else the severity map, else the default."""
    explicit = labels.get(config.priority_label, "").strip().upper()
    for priority in PRIORITIES:
        if explicit == priority:
            return priority
    severity = labels.get(config.severity_label, "").strip().lower()
    return config.severity_map.get(severity, config.default_priority)


def highest(priorities: Iterable[Priority], fallback: Priority) -> Priority:
    """P0 is the highest; a group is as urgent as its most urgent alert."""
    return min(priorities, default=fallback)


def match_route(labels: Mapping[str, str], config: AlertsConfig) -> Route:
    plain = dict(labels)
    for route in config.routes:
        if route.matches(plain):
            return route
    # The config validator guarantees a catch-all as the last route.
    return config.routes[-1]


@dataclass(frozen=True)
class Placement:
    priority: Priority
    channel: str
    route: Route
    policy: EscalationPolicy


def place(
    labels: Mapping[str, str], alert_priorities: Iterable[Priority], config: AlertsConfig
) -> Placement:
    """Priority from the alerts, channel from the first matching route, unless the priority's
    escalation policy names its own channel (a P0 goes to the incident channel)."""
    priority = highest(alert_priorities, priority_of(labels, config))
    route = match_route(labels, config)
    policy = config.escalation[priority]
    return Placement(priority, policy.channel or route.channel, route, policy)

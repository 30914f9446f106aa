"""Config models for the alert side: priorities, routes, escalation, PagerDuty mapping.

They live with the alert domain (not in bot/) because routing and escalation decisions
are made from them here; bot/config.py only composes and loads the file.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.allow_lists import RouteRunbooks
from alerts.durations import Duration

Priority = Literal["P0", "P1", "P2", "P3"]
PRIORITIES: tuple[Priority, ...] = ("P0", "P1", "P2", "P3")

# Slack ids: channels C/G/D..., users U/W..., user groups S...
CHANNEL_ID = r"^[CGD][A-Z0-9]{2,}$"
MENTION_ID = r"^[UWS][A-Z0-9]{2,}$"


def check_principals(value: list[str] | None) -> list[str] | None:
    for principal in value or []:
        if not re.fullmatch(MENTION_ID, principal):
            raise ValueError(f"{principal!r} is not a Slack user (U...) or user group (S...) id")
    return value


class _Strict(BaseModel):
    # Attribute docstrings become field descriptions (the generated config reference).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Route(_Strict):
    """First route whose matchers all hold for the alert group's labels wins."""

    match: dict[str, str] = Field(default_factory=dict)
    """Label name -> value that must be equal."""
    match_re: dict[str, str] = Field(
        default_factory=dict, description="Label name -> regular expression, fully anchored."
    )
    channel: str = Field(pattern=CHANNEL_ID)
    """The Slack channel id (C...) its alert groups are posted to."""
    pagerduty_routing_key: str | None = Field(
        default=None, description="Pages for alerts on this route go to this PagerDuty service."
    )
    prometheus_url: str | None = Field(default=None, pattern=r"^https?://")
    """The Prometheus this route's alert graphs query, instead of `PROMETHEUS_URL` (a team
    with its own Prometheus)."""
    responders: list[str] | None = Field(default=None)
    """Who may Acknowledge and Silence this route's alerts (user ids U... or user-group ids
    S...), replacing `alerts.responders` for it: a team owns its own alerts."""
    runbooks: RouteRunbooks | None = None
    """What runbook steps may reach when this route's alert data picks the target
    (`targets`, `http_hosts`), replacing `runbooks.targets` / `runbooks.http_hosts`."""

    _responders = field_validator("responders")(check_principals)

    @field_validator("match_re")
    @classmethod
    def _regexes_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for label, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"match_re.{label}: invalid regular expression ({exc})") from exc
        return value

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match.items()):
            return False
        return all(re.fullmatch(p, labels.get(k, "")) for k, p in self.match_re.items())


class EscalationPolicy(_Strict):
    """What happens to an alert group of one priority over time.

    `page_after` pages PagerDuty when nobody has acknowledged by then (0s pages at once);
    `renotify_every` repeats a mention in the thread until acknowledged; `remind_after`
    posts one reminder; `digest_every` gathers the groups into one digest per channel
    instead of posting each one.
    """

    channel: str | None = Field(default=None, pattern=CHANNEL_ID)
    """Posts this priority here instead of the route's channel (a P0 to the incident room)."""
    mention: str | None = Field(default=None, pattern=MENTION_ID)
    """A user (U...) or user group (S...) mentioned in the message and re-notifications."""
    page_after: Duration | None = None
    """Page PagerDuty when nobody has acknowledged by then; 0s pages at once."""
    renotify_every: Duration | None = None
    """Repeat the mention in the thread this often until acknowledged (at least 1m)."""
    remind_after: Duration | None = None
    """Post one reminder in the thread when still unacknowledged after this."""
    digest_every: Duration | None = None
    """Gather this priority's groups into one digest message per channel, updated this
    often, instead of a message each."""

    @field_validator("renotify_every", "digest_every")
    @classmethod
    def _not_zero(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value.total_seconds() < 60:
            raise ValueError("must be at least 1m, or Slack and people drown in repeats")
        return value


DEFAULT_ESCALATION: dict[Priority, EscalationPolicy] = {
    "P0": EscalationPolicy(page_after=timedelta(0), renotify_every=timedelta(minutes=5)),
    "P1": EscalationPolicy(page_after=timedelta(minutes=5), renotify_every=timedelta(minutes=15)),
    "P2": EscalationPolicy(remind_after=timedelta(minutes=30)),
    "P3": EscalationPolicy(digest_every=timedelta(hours=1)),
}


DEFAULT_SEVERITIES: dict[str, Priority] = {
    "critical": "P0",
    "error": "P1",
    "warning": "P2",
    "info": "P3",
}


class GraphsConfig(_Strict):
    """A graph of each alert's expression in its thread (when Prometheus can be asked)."""

    enabled: bool = True
    """Post graphs when `PROMETHEUS_URL` (or the route's `prometheus_url`) is set."""
    range: Duration = Field(default=timedelta(hours=1))
    """How far back the graph reaches from the moment it is drawn."""
    timeout: Duration = Field(default=timedelta(seconds=10))
    """How long one Prometheus query may take before the graph is given up."""
    max_series: int = Field(default=10, ge=1, le=50)
    """Lines on one graph: the expression is asked for as `topk(max_series, ...)`, so an
    alert whose expression matches thousands of series makes Prometheus send ten, not
    thousands (a graph of more lines is not read anyway)."""
    max_response: int = Field(default=2 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    """Bytes of one Prometheus answer the bot reads for a graph; past it the graph is
    given up, the connection closed. Ten series of 240 points are about 100 KB, so 2 MiB
    leaves room for long label sets and nothing for an expression gone wide."""


class AlertsConfig(_Strict):
    priority_label: str = Field(default="priority", description="A label holding P0..P3 wins.")
    severity_map: dict[str, Priority] = Field(default_factory=lambda: dict(DEFAULT_SEVERITIES))
    """Severity label value -> priority."""
    severity_label: str = "severity"
    """The label mapped through `severity_map` when no priority label says."""
    default_priority: Priority = "P2"
    """When neither label says: P2 is posted and reminded about, but pages nobody."""
    routes: list[Route] = Field(
        min_length=1, description="First match wins; end with a catch-all route (no matchers)."
    )
    escalation: dict[Priority, EscalationPolicy] = Field(default_factory=dict)
    """P0..P3 -> what happens over time. A level not given keeps its default: P0 pages at
    once and re-notifies every 5m; P1 pages after 5m, re-notifies every 15m; P2 reminds
    after 30m; P3 goes into an hourly digest."""
    responders: list[str] | None = None
    """Who may Acknowledge and Silence (user ids or user-group ids), checked on every click.
    Unset: anyone who can see the message, as in Alertmanager's own UI."""
    max_alerts_shown: int = Field(
        default=10, ge=1, le=20, description="Alerts listed in one message; the rest are '+N more'."
    )
    storm_threshold: int | None = Field(default=8, ge=1)
    """Storm mode, in seconds: when a channel's queue of posts would take longer than this
    to go out at Slack's rate (about one message per second per channel), new P2/P3 groups
    there are named in one summary message instead of posted one by one, so that every
    group is visible within seconds (null turns it off)."""
    graphs: GraphsConfig = Field(default_factory=GraphsConfig)
    """Graphs of alert expressions in their threads."""
    storm_calm: Duration = Field(
        default=timedelta(seconds=30),
        description=(
            "A storm ends when no group was folded for this long and the queue is under half "
            "the threshold; its groups stay in the summary."
        ),
    )

    _responders = field_validator("responders")(check_principals)

    @field_validator("routes")
    @classmethod
    def _catch_all_last(cls, routes: list[Route]) -> list[Route]:
        last = routes[-1]
        if last.match or last.match_re:
            raise ValueError(
                "the last route must be a catch-all without match/match_re, "
                "so that no alert goes unposted"
            )
        return routes

    @model_validator(mode="after")
    def _fill_escalation_defaults(self) -> AlertsConfig:
        # A level the file does not mention keeps its default, so a config that only tunes
        # P0 does not silently switch off paging for P1.
        merged = dict(DEFAULT_ESCALATION)
        merged.update(self.escalation)
        object.__setattr__(self, "escalation", merged)
        return self


class PagerDutyConfig(_Strict):
    services: dict[str, str] = Field(
        default_factory=dict, description="PagerDuty service id -> Slack channel id."
    )
    users: dict[str, str] = Field(
        default_factory=dict, description="Slack user id -> PagerDuty login email."
    )
    dedup: Literal["group", "alert"] = Field(
        default="group",
        description="One PagerDuty incident per alert group, or one per alert fingerprint.",
    )

    @field_validator("services")
    @classmethod
    def _channels(cls, value: dict[str, str]) -> dict[str, str]:
        for service, channel in value.items():
            if not re.fullmatch(CHANNEL_ID, channel):
                raise ValueError(f"{service}: {channel!r} is not a Slack channel id (C...)")
        return value

"""Config models for `oncall:` (schedules and user groups) and `heartbeats:`."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.config import CHANNEL_ID, Priority
from alerts.durations import Duration

# A heartbeat's name is a URL path segment (`POST /heartbeats/{name}`) and a label value.
HEARTBEAT_NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
SCHEDULE_ID = r"^P[A-Z0-9]{2,}$"
USERGROUP_ID = r"^S[A-Z0-9]{2,}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class HeartbeatConfig(_Strict):
    """A signal the bot expects regularly; its absence is the alert."""

    name: str = Field(pattern=HEARTBEAT_NAME)
    """Lower-case name, used in `POST /heartbeats/{name}` and in the metric's `name` label."""
    every: Duration
    """How often the signal comes: for Alertmanager's Watchdog, its `repeat_interval`."""
    grace: Duration = timedelta(minutes=5)
    """How much later than `every` it may come before it counts as late. 5m is
    Alertmanager's default `group_interval`: a repeat goes out at the next group tick, so
    it can be that much late without anything being wrong."""
    match: dict[str, str] | None = None
    """Labels an Alertmanager alert must carry (all equal) to count as this signal; such
    alerts are taken by the heartbeat and never posted. None: only `POST /heartbeats/{name}`."""
    channel: str = Field(pattern=CHANNEL_ID)
    """Where the bot says it went late and came back."""
    priority: Priority = "P1"
    """The priority it pages PagerDuty at when late: P1, since a silent alerting path
    means every other alert may be missing, yet nothing is known to be down."""

    @field_validator("every")
    @classmethod
    def _at_least_a_second(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("every must be at least 1s")
        return value

    @property
    def allowed_silence(self) -> timedelta:
        return self.every + self.grace


def check_unique_names(heartbeats: list[HeartbeatConfig]) -> list[HeartbeatConfig]:
    seen: set[str] = set()
    for heartbeat in heartbeats:
        if heartbeat.name in seen:
            raise ValueError(f"heartbeat {heartbeat.name!r} is defined twice")
        seen.add(heartbeat.name)
    return heartbeats


class OnCallConfig(_Strict):
    """Who is on call, read from PagerDuty schedules."""

    schedules: dict[str, str] = Field(default_factory=dict)
    """Name (a service or team, as typed in `/oncall api`) -> PagerDuty schedule id. A
    service of `pagerduty.services` not named here is looked up through its escalation
    policy."""
    usergroups: dict[str, str] = Field(default_factory=dict)
    """PagerDuty schedule id -> Slack user group id (S...) kept equal to the people on
    call for it, so that mentioning the group reaches whoever holds the pager."""
    channels: dict[str, str] = Field(default_factory=dict)
    """Schedule name (a key of `schedules`) -> channel where its handoffs are announced.
    Unset: handoffs are not announced there (the user group is still kept)."""

    @model_validator(mode="after")
    def _ids_look_right(self) -> OnCallConfig:
        problems = [
            f"schedules.{name}: {value!r} is not a PagerDuty schedule id (P...)"
            for name, value in self.schedules.items()
            if not re.fullmatch(SCHEDULE_ID, value)
        ]
        problems += [
            f"usergroups.{key}: {value!r} is not a Slack user group id (S...)"
            for key, value in self.usergroups.items()
            if not re.fullmatch(USERGROUP_ID, value)
        ]
        problems += [
            f"channels.{name}: {value!r} is not a Slack channel id (C...)"
            for name, value in self.channels.items()
            if not re.fullmatch(CHANNEL_ID, value)
        ]
        problems += [
            f"channels.{name}: no schedule of that name in oncall.schedules"
            for name in self.channels
            if name not in self.schedules
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

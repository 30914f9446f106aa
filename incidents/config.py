"""The `incidents:` config section: when incidents are declared, where they are told.

It lives with the incident domain because the decisions (auto-declaring a priority, the
channel's name, who may change an incident) are made from it here.
"""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerts.config import CHANNEL_ID, Priority, check_principals
from alerts.durations import Duration

# Slack channel names: lowercase letters, digits, hyphens and underscores.
PREFIX = r"^[a-z0-9][a-z0-9_-]{0,19}$"


class IncidentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    auto_declare: list[Priority] = Field(default_factory=list)
    """Priorities whose alert groups declare an incident when they first fire. Empty by
    default: a team decides which pages deserve a channel of their own (e.g. [P0])."""
    channel_prefix: str = Field(default="inc", pattern=PREFIX)
    """The first word of an incident channel's name, `inc-2026-12-08-api-down`: short, so
    the title's slug keeps most of Slack's 80 characters."""
    broadcast_channel: str | None = Field(default=None, pattern=CHANNEL_ID)
    """Where declarations and status changes are announced; unset: the P0 escalation
    channel (alerts.escalation.P0.channel), the room people already watch for P0s."""
    invite: list[str] = Field(default_factory=list)
    """Users (U...) or user groups (S...) invited into every incident channel, besides the
    declarer, the acknowledger and the alert's responders."""
    update_every: Duration = Field(default=timedelta(minutes=30))
    """The lead is reminded in the channel when nobody posted an update for this long while
    the incident is not resolved: half an hour is the usual status-page cadence."""
    archive_after: Duration | None = None
    """Archive the channel this long after resolve; unset: never (the channel is the
    record, and archiving is easy to do by hand)."""
    managers: list[str] | None = None
    """Who may change any incident besides its lead and responders; unset: anyone who may
    acknowledge its alerts (alerts.responders and the routes' responders)."""

    @field_validator("invite")
    @classmethod
    def _principals(cls, value: list[str]) -> list[str]:
        return check_principals(value) or []

    @field_validator("managers")
    @classmethod
    def _managers(cls, value: list[str] | None) -> list[str] | None:
        return check_principals(value)

    @field_validator("update_every")
    @classmethod
    def _cadence(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 60:
            raise ValueError("must be at least 1m, or the lead drowns in reminders")
        return value


def channel_prefix_ok(prefix: str) -> bool:
    return re.fullmatch(PREFIX, prefix) is not None

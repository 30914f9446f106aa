"""The shapes of PagerDuty's on-call data the bot reads (REST API v2), as plain models.

`GET /oncalls` lists contiguous blocks of time during which a user is on call for an
escalation policy at one escalation level, through a schedule (or directly: `schedule`
is null, `start`/`end` null for "always"). With `include[]=users` each `user` is the full
user, with its `email` and `time_zone`. Only what the bot reads is declared.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from alerts.pagerduty import PagerDutyModel, Reference, Text


class OnCallUser(PagerDutyModel):
    id: Text = None
    summary: Text = None
    name: Text = None
    email: Text = None
    html_url: Text = None

    @property
    def label(self) -> str:
        return self.name or self.summary or self.email or self.id or "someone"


class OnCall(PagerDutyModel):
    user: OnCallUser | None = None
    schedule: Reference | None = None
    escalation_policy: Reference | None = None
    escalation_level: int = 1
    start: datetime | None = None
    end: datetime | None = None

    def covers(self, moment: datetime) -> bool:
        return (self.start is None or self.start <= moment) and (
            self.end is None or moment < self.end
        )


class OnCallPage(PagerDutyModel):
    """One page of `GET /oncalls` (classic pagination: `offset`, `limit`, `more`)."""

    oncalls: list[OnCall] = Field(default_factory=list)
    more: bool = False
    offset: int = 0
    limit: int = 25


class Schedule(PagerDutyModel):
    id: Text = None
    name: Text = None
    summary: Text = None
    time_zone: Text = None
    escalation_policies: list[Reference] = Field(default_factory=list)


class Service(PagerDutyModel):
    id: Text = None
    name: Text = None
    summary: Text = None
    escalation_policy: Reference | None = None

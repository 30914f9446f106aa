"""When the weekly report is due: "mon 09:00" in the team's time zone.

Written for people ("mon 09:00", "friday 17:30"); the period a report covers is the week
that ends at its due moment, so a late or repeated run always talks about the same week.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EVERY = re.compile(r"^\s*([a-z]+)\s+(\d{1,2}):(\d{2})\s*$")


def parse_every(value: str) -> tuple[int, time]:
    """("mon 09:00") -> (0, 09:00); a clear ValueError for anything else."""
    match = _EVERY.match(value.lower())
    day = match.group(1) if match else ""
    if match is None or (day not in DAYS and day not in FULL_DAYS):
        raise ValueError(f"{value!r} is not a weekly time; write it like 'mon 09:00'")
    hour, minute = int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise ValueError(f"{value!r}: {hour:02d}:{minute:02d} is not a time of day")
    return (DAYS + FULL_DAYS).index(day) % 7, time(hour, minute)


class ReportConfig(BaseModel):
    """The weekly operations report posted to Slack (`chatops report` has the same figures)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    channel: str
    """Channel id the report is posted to, e.g. C0000OPSRP."""
    every: str = "mon 09:00"
    """Weekday and time the report is due, e.g. `mon 09:00`; it covers the 7 days before."""
    timezone: str = "UTC"
    """IANA time zone of `every`, e.g. Europe/Madrid (daylight saving time is followed)."""

    @field_validator("every")
    @classmethod
    def _every(cls, value: str) -> str:
        parse_every(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name like Europe/Madrid"
            ) from None
        return value


def last_due(now: datetime, every: str, timezone: str) -> datetime:
    """The latest due moment at or before `now`, in UTC."""
    weekday, at = parse_every(every)
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    due = datetime.combine(day, at, tzinfo=zone)
    if due > local:
        due = datetime.combine(day - timedelta(days=7), at, tzinfo=zone)
    return due.astimezone(UTC)


def period_before(due: datetime, every: str, timezone: str) -> tuple[datetime, datetime]:
    """The week a report due at `due` covers: from the previous due moment to this one
    (computed in local time, so a week across a daylight saving change is still a week)."""
    return last_due(due - timedelta(seconds=1), every, timezone), due

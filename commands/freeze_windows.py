"""Freeze windows (`deploy.freezes`): times when /deploy and /shift do not run.

A window is recurring (`fri 16:00 - mon 08:00`, every week) or dated (`2026-12-24 -
2027-01-02`, the last day included), in an IANA time zone whose daylight saving time is
followed: the times are wall-clock times there, as the people who agreed on the freeze
mean them. A window covers some services and environments, or all of them. A rollback
is never frozen: it is how a frozen team recovers. Plain data and arithmetic only; the
operations feature asks `in_force` when a request is posted and again just before an
approved one runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RECURRING = re.compile(
    r"^\s*(mon|tue|wed|thu|fri|sat|sun)\s+(\d{1,2}):(\d{2})\s*-\s*"
    r"(mon|tue|wed|thu|fri|sat|sun)\s+(\d{1,2}):(\d{2})\s*$"
)
_DATED = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})(?:\s+(\d{1,2}:\d{2}))?\s+-\s+"
    r"(\d{4}-\d{2}-\d{2})(?:\s+(\d{1,2}:\d{2}))?\s*$"
)
WHEN_SYNTAX = (
    "write it like `fri 16:00 - mon 08:00` (every week) or `2026-12-24 - 2027-01-02` "
    "(dates, the last one included; `2026-12-24 18:00 - 2026-12-27 09:00` for times)"
)


@dataclass(frozen=True)
class Weekly:
    start_day: int
    start: time
    end_day: int
    end: time


@dataclass(frozen=True)
class Dated:
    start: datetime  # naive local times
    end: datetime


def parse_when(text: str) -> Weekly | Dated:
    if found := _RECURRING.match(text.lower()):
        a, ah, am, b, bh, bm = found.groups()
        shape = Weekly(WEEKDAYS.index(a), _clock(ah, am), WEEKDAYS.index(b), _clock(bh, bm))
        if (shape.start_day, shape.start) == (shape.end_day, shape.end):
            raise ValueError(f"{text!r} starts and ends at the same moment")
        return shape
    if found := _DATED.match(text):
        first, first_time, last, last_time = found.groups()
        start = datetime.combine(_day(first), _hm(first_time) or time(0, 0))
        end_time = _hm(last_time)
        end = (
            datetime.combine(_day(last), end_time)
            if end_time is not None
            else datetime.combine(_day(last) + timedelta(days=1), time(0, 0))
        )
        if end <= start:
            raise ValueError(f"{text!r} ends before it starts")
        return Dated(start, end)
    raise ValueError(f"{text!r} is not a freeze window; {WHEN_SYNTAX}")


def _clock(hours: str, minutes: str) -> time:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ValueError(f"{hours}:{minutes} is not a time of day (00:00 to 23:59)")
    return time(h, m)


def _hm(text: str | None) -> time | None:
    return None if text is None else _clock(*text.split(":"))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


class FreezeWindowConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str = Field(min_length=1, max_length=80)
    """Shown on the refused request and in `/deploy status`, e.g. "Weekend freeze"."""
    when: str
    """`fri 16:00 - mon 08:00` (every week) or `2026-12-24 - 2027-01-02` (the last day
    included), wall-clock times in `timezone`."""
    timezone: str = "UTC"
    """IANA zone of `when`, e.g. Europe/Madrid; daylight saving time is followed, so a
    Friday 16:00 freeze starts at 16:00 local in summer and in winter."""
    services: list[str] = Field(default_factory=list)
    """Services it covers; empty: every service."""
    environments: list[str] = Field(default_factory=list)
    """Environments it covers; empty: every environment (e.g. [production])."""

    @field_validator("when")
    @classmethod
    def _when(cls, value: str) -> str:
        parse_when(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @property
    def shape(self) -> Weekly | Dated:
        return parse_when(self.when)

    def covers(self, service: str, environment: str) -> bool:
        return (not self.services or service in self.services) and (
            not self.environments or environment in self.environments
        )


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like Europe/Madrid"
        ) from None


@dataclass(frozen=True)
class Occurrence:
    name: str
    start: datetime  # aware, UTC
    end: datetime
    timezone: str


def occurrences(window: FreezeWindowConfig, around: datetime) -> list[Occurrence]:
    """The window's occurrences that end after `around` - 8 days and start before
    `around` + 8 days (a week and a day on each side covers every recurring case)."""
    tz = zone(window.timezone)
    shape = window.shape
    if isinstance(shape, Dated):
        return [
            Occurrence(
                window.name,
                _utc(shape.start, tz),
                _utc(shape.end, tz),
                window.timezone,
            )
        ]
    local_today = around.astimezone(tz).date()
    found = []
    for offset in range(-8, 9):
        day = local_today + timedelta(days=offset)
        if day.weekday() != shape.start_day:
            continue
        span = (shape.end_day - shape.start_day) % 7
        if span == 0 and shape.end <= shape.start:
            span = 7
        start = _utc(datetime.combine(day, shape.start), tz)
        end = _utc(datetime.combine(day + timedelta(days=span), shape.end), tz)
        found.append(Occurrence(window.name, start, end, window.timezone))
    return found


def _utc(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))


def in_force(
    windows: Sequence[FreezeWindowConfig], service: str, environment: str, now: datetime
) -> Occurrence | None:
    """The window freezing `service`/`environment` at `now` (the one ending last, when
    several overlap), or None."""
    current = [
        o
        for w in windows
        if w.covers(service, environment)
        for o in occurrences(w, now)
        if o.start <= now < o.end
    ]
    return max(current, key=lambda o: o.end, default=None)


def next_window(
    windows: Sequence[FreezeWindowConfig], service: str, environment: str, now: datetime
) -> Occurrence | None:
    upcoming = [
        o
        for w in windows
        if w.covers(service, environment)
        for o in occurrences(w, now)
        if o.start > now
    ]
    return min(upcoming, key=lambda o: o.start, default=None)


def describe(occurrence: Occurrence, *, end: bool = True) -> str:
    """`Weekend freeze, until Mon 08:00 Europe/Madrid`: the local time people agreed on."""
    tz = zone(occurrence.timezone)
    moment = (occurrence.end if end else occurrence.start).astimezone(tz)
    label = "until" if end else "from"
    return f"{occurrence.name}, {label} {moment:%a %d %b %H:%M} {occurrence.timezone}"


def overlapping(windows: Sequence[FreezeWindowConfig]) -> list[tuple[int, int]]:
    """Pairs of windows of the same kind (dated with dated, weekly with weekly) that cover
    a common service and environment and overlap in time: almost always a typo. A dated
    holiday freeze over a weekly weekend freeze is normal and not reported."""
    pairs = []
    reference = datetime(2026, 1, 7, tzinfo=ZoneInfo("UTC"))
    for i, a in enumerate(windows):
        for j in range(i + 1, len(windows)):
            b = windows[j]
            if type(a.shape) is not type(b.shape) or not _scopes_meet(a, b):
                continue
            around = reference if isinstance(a.shape, Weekly) else None
            first = occurrences(a, around or reference)
            second = occurrences(b, around or reference)
            if any(x.start < y.end and y.start < x.end for x in first for y in second):
                pairs.append((i, j))
    return pairs


def _scopes_meet(a: FreezeWindowConfig, b: FreezeWindowConfig) -> bool:
    services = not a.services or not b.services or bool(set(a.services) & set(b.services))
    envs = (
        not a.environments or not b.environments or bool(set(a.environments) & set(b.environments))
    )
    return services and envs


def window_note(
    windows: Sequence[FreezeWindowConfig], service: str, environment: str, now: datetime
) -> str | None:
    """The window in force for the target, as the refusal names it; None when none is."""
    found = in_force(windows, service, environment, now)
    return describe(found) if found is not None else None


def next_note(
    windows: Sequence[FreezeWindowConfig], service: str, environment: str, now: datetime
) -> str | None:
    """The next window to open for the target within a week, named with its start."""
    found = next_window(windows, service, environment, now)
    if found is None or found.start - now > timedelta(days=7):
        return None
    return describe(found, end=False)

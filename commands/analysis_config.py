"""Bake analysis config: PromQL checks judged during a bake, like Flagger's metric checks.

The queries are templates: `{{ service }}`, `{{ environment }}`, `{{ colour }}` (the colour
that just received traffic) and `{{ window }}` (the range for `rate()`) are filled in for
each bake, so one set of checks serves every service. Without `checks`, the seed's
release criteria apply: error ratio below 0.5 % and p95 latency below 2 s.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.durations import Duration

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
PLACEHOLDERS = ("service", "environment", "colour", "window")

ERROR_RATIO = (
    '(sum(rate(http_requests_total{service="{{ service }}", colour="{{ colour }}", '
    'status=~"5.."}[{{ window }}])) or vector(0))'
    ' / sum(rate(http_requests_total{service="{{ service }}", colour="{{ colour }}"}'
    "[{{ window }}]))"
)
P95_LATENCY = (
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
    '{service="{{ service }}", colour="{{ colour }}"}[{{ window }}])))'
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class AnalysisCheck(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    """Short name shown in the thread and on the chart (e.g. `error-ratio`)."""
    query: str = Field(min_length=1)
    """PromQL giving one number; `{{ service }}`, `{{ environment }}`, `{{ colour }}` and
    `{{ window }}` are filled in. No value (no series, NaN) counts as a failed check."""
    min: float | None = None
    """The value must be at least this (e.g. a success rate)."""
    max: float | None = None
    """The value must be at most this (e.g. an error ratio or a latency)."""
    show_as: Literal["number", "percent", "seconds"] = "number"
    """How values are written: `percent` for a 0..1 ratio (0.005 is shown as 0.5%)."""

    @field_validator("query")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        unknown = sorted({m for m in PLACEHOLDER.findall(value) if m not in PLACEHOLDERS})
        if unknown:
            known = ", ".join("{{ " + p + " }}" for p in PLACEHOLDERS)
            raise ValueError(f"unknown placeholder(s) {', '.join(unknown)}; known: {known}")
        return value

    @model_validator(mode="after")
    def _has_threshold(self) -> AnalysisCheck:
        if self.min is None and self.max is None:
            raise ValueError(f"check {self.name!r} needs a threshold: min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"check {self.name!r}: min is above max")
        return self

    def render(self, *, service: str, environment: str, colour: str, window: timedelta) -> str:
        """The query with this bake's values filled in."""
        values = {
            "service": service,
            "environment": environment,
            "colour": colour,
            "window": f"{max(int(window.total_seconds()), 1)}s",
        }
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], self.query)


def seed_checks() -> list[AnalysisCheck]:
    """The seed's rollback criteria: error rate < 0.5 %, p95 response time < 2 s."""
    return [
        AnalysisCheck(name="error-ratio", query=ERROR_RATIO, max=0.005, show_as="percent"),
        AnalysisCheck(name="p95-latency", query=P95_LATENCY, max=2.0, show_as="seconds"),
    ]


class AnalysisConfig(_Strict):
    checks: list[AnalysisCheck] = Field(default_factory=seed_checks, min_length=1)
    """The PromQL checks; default: the seed's error ratio < 0.5% and p95 latency < 2 s,
    on `http_requests_total` (label `status`) and `http_request_duration_seconds_bucket`,
    both labelled with `service` and `colour`."""
    interval: Duration = timedelta(minutes=1)
    """How often the checks run during a bake (Flagger's `interval`); the first run is one
    interval after the shift."""
    window: Duration = timedelta(minutes=1)
    """The range filled in for `{{ window }}` (e.g. `rate(...[1m])`); it should span at
    least two scrapes."""
    failure_limit: int = Field(default=2, ge=1, le=100)
    """Failed runs in one bake that end it (Flagger's `threshold`): a run fails when any
    check breaches its threshold, has no value, or cannot be queried. One bad scrape does
    not roll back a release; a lasting breach does within this many intervals."""

    @field_validator("interval")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 1:
            raise ValueError("interval must be at least 1s")
        return value

    @field_validator("checks")
    @classmethod
    def _unique_names(cls, value: list[AnalysisCheck]) -> list[AnalysisCheck]:
        names = [c.name for c in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"check names must be unique: {', '.join(twice)}")
        return value

"""The `http` config section: limits of the bot's HTTP endpoints."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

MIB = 1024 * 1024
_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": MIB, "gb": 1000**3}
_SIZE = re.compile(r"\s*([0-9]+)\s*([a-z]*)\s*", re.IGNORECASE)


class HttpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    max_body: int = Field(default=32 * MIB, ge=64 * 1024, le=1024 * MIB)
    """Largest Alertmanager or Grafana webhook body accepted, in bytes (or `64MiB`, `100MB`).
    A refused body is a lost notification, and a 1,300-alert group with `max_alerts: 0` is
    already over 1 MiB; 32 MiB holds about 30,000 alerts. Slack and PagerDuty requests keep
    their own 1 MiB limit."""

    @field_validator("max_body", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        found = _SIZE.fullmatch(value)
        unit = found.group(2).lower() if found else ""
        if found is None or unit not in _UNITS:
            raise ValueError("must be a number of bytes, or like 32MiB, 100MB, 512KiB")
        return int(found.group(1)) * _UNITS[unit]

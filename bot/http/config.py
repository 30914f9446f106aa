"""The `http` config section: limits of the bot's HTTP endpoints."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerts.durations import Duration

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

    header_timeout: Duration = Field(
        default=timedelta(seconds=5), ge=timedelta(milliseconds=100), le=timedelta(minutes=5)
    )
    """How long a connection may take to send a request's line and headers, and how long
    it may stay idle between requests. Alertmanager, Grafana, PagerDuty and Slack send a
    request in one go, so 5s is ample; a connection that trickles its headers is closed
    then instead of being held open (aiohttp's own default is 75s)."""
    body_timeout: Duration = Field(
        default=timedelta(seconds=10), ge=timedelta(milliseconds=100), le=timedelta(minutes=10)
    )
    """How long a request's body may take to arrive once its headers have (408 past it, and
    the connection is closed). 10s lets a 32 MiB Alertmanager group through at 3 MB/s;
    Slack's requests must be answered within 3s anyway."""
    max_connections: int = Field(default=256, ge=8, le=100_000)
    """Open connections at once; past it a new connection is answered 503 at once and
    closed, before anything of it is read. Each open connection holds buffers, so this
    bounds the memory that unauthenticated connections can take while the timeouts above
    run; Alertmanager and Slack use a handful of connections each."""
    max_unverified_body: int = Field(default=32 * MIB, ge=MIB, le=1024 * MIB)
    """Bytes of Slack and PagerDuty request bodies held at once before their signature can
    be checked (both sign the body, so it is read first); a body that would go past it is
    answered 503 at once. Alertmanager's token is checked before its body is read, so its
    bodies do not count here."""

    @field_validator("max_body", "max_unverified_body", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        found = _SIZE.fullmatch(value)
        unit = found.group(2).lower() if found else ""
        if found is None or unit not in _UNITS:
            raise ValueError("must be a number of bytes, or like 32MiB, 100MB, 512KiB")
        return int(found.group(1)) * _UNITS[unit]

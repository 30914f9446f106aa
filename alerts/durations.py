"""Durations written the way Alertmanager and Prometheus write them ("30s", "5m", "1h30m").

Config authors already know this syntax from their Alertmanager files, so the bot's
config accepts the same spelling rather than bare numbers whose unit must be guessed.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")


def parse_duration(value: Any) -> timedelta:
    """Parse "1h30m" (or a number of seconds) into a timedelta; negative values are refused."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError("a duration like 30s, 5m or 1h is expected")
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-"):
            raise ValueError(f"duration {value!r} is negative; durations must be 0s or more")
        if not text or _PART.sub("", text) != "":
            raise ValueError(f"{value!r} is not a duration; write it like 30s, 5m, 1h or 1h30m")
        seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    else:
        raise ValueError("a duration like 30s, 5m or 1h is expected")
    if seconds < 0:
        raise ValueError(f"duration {value!r} is negative; durations must be 0s or more")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Render a duration for people: "1h 5m", "42s", "3d 2h"."""
    total = int(delta.total_seconds())
    if total < 60:
        return f"{max(total, 0)}s"
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return " ".join(parts[:2])


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda d: f"{int(d.total_seconds())}s", return_type=str),
]

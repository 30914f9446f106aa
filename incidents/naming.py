"""Incident channel names, by Slack's rules.

Slack takes lowercase letters, digits, hyphens and underscores, at most 80 characters;
anything else in a title (spaces, accents, emoji, punctuation) becomes one hyphen. A name
already taken gets -2, -3... (`with_suffix`), cut so that the suffix still fits.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

MAX_NAME = 80  # Slack's limit for a channel name
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def slug(title: str) -> str:
    """`title` as channel-name characters: ASCII lowercase, runs of others as one hyphen."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return _NOT_ALLOWED.sub("-", ascii_title.lower()).strip("-_") or "incident"


def channel_name(prefix: str, declared_at: datetime, title: str) -> str:
    """`{prefix}-{yyyy-mm-dd}-{slug}`, within Slack's 80 characters."""
    base = f"{prefix}-{declared_at:%Y-%m-%d}-{slug(title)}"
    return base[:MAX_NAME].rstrip("-_")


def with_suffix(name: str, attempt: int) -> str:
    """The name for the `attempt`-th try (1: the name itself, 2: name-2, ...)."""
    if attempt <= 1:
        return name
    suffix = f"-{attempt}"
    return name[: MAX_NAME - len(suffix)].rstrip("-_") + suffix


def is_valid(name: str) -> bool:
    return 0 < len(name) <= MAX_NAME and _NOT_ALLOWED.search(name) is None

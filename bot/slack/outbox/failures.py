"""What a failed Slack call means for its outbox row: try again later, or never.

A 429 waits out Slack's `Retry-After`; a 5xx or a network error backs off; a permanent
error (Slack said the call itself is wrong) is kept as `failed`. The exception type
decides, so the code that calls Slack only says which case it met.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

MAX_BACKOFF = timedelta(minutes=5)


class RetryLater(Exception):
    """The call may succeed later: the row goes back to `pending` until `after` has passed."""

    def __init__(self, after: timedelta, reason: str) -> None:
        super().__init__(reason)
        self.after = after
        self.reason = reason


class Permanent(Exception):
    """Slack will never accept this call: the row is kept as `failed` with the reason."""


class WaitingForParent(Exception):
    """The message this call refers to has not been posted yet."""


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)


def retry_after_seconds(headers: Any) -> float:
    """Slack's `Retry-After`, at least a second (a missing or odd header counts as one)."""
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        return max(float(value), 1.0)
    except (TypeError, ValueError, AttributeError):
        return 1.0


class Unconfirmed(RetryLater):
    """A post's call ended without an answer after it was sent (a timeout, a dropped
    connection): Slack may have posted it, so it is looked up before it goes again."""

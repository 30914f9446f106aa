"""PagerDuty side effects: paging through the Events API, updating incidents through REST.

The clients live in their own modules (`events`, `incidents`, `ratelimit`); this package
module holds the error types they share, so that the durable retry queue (which lives
elsewhere) can classify a failure without knowing which API produced it, and the one
table (`failure`) that decides which of them an HTTP answer is:

- `PermanentPagerError`: PagerDuty rejected the request; sending it again cannot help.
- `TemporaryPagerError`: throttled, a server error, or the network; retry later, after
  `retry_after` seconds when PagerDuty (or the client) suggested a delay.

Messages never contain the routing key or the API token: both are secrets, and these
messages end up in logs and in Slack threads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


class PagerError(Exception):
    """A PagerDuty request did not succeed.

    `status` is the HTTP status when PagerDuty answered (None for network failures),
    `code` PagerDuty's numeric REST error code when it sent one (e.g. 1001, "Incident
    Already Resolved"), and `errors` the detail strings from its error body.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        errors: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.errors: tuple[str, ...] = tuple(errors)


class PermanentPagerError(PagerError):
    """PagerDuty refused the request (400 and other 4xx except 408/429): never retry it."""


class TemporaryPagerError(PagerError):
    """A transient failure (429, 5xx, timeout, connection error): worth a later retry.

    `retry_after` is a hint in seconds; None means "use your own backoff".
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        code: int | None = None,
        errors: Sequence[str] = (),
    ) -> None:
        super().__init__(message, status=status, code=code, errors=errors)
        self.retry_after = retry_after


class InvalidIncidentId(PermanentPagerError, ValueError):
    """An incident id that is not PagerDuty's shape ([A-Z0-9]+); rejected before any request.

    Also a ValueError, because it is bad input rather than a refusal by PagerDuty, but a
    permanent error too, so callers that only classify retries treat it correctly.
    """


def failure(
    status: int,
    *,
    throttled: str,
    unavailable: str,
    refused: str,
    retry_after: float | None = None,
    throttled_retry_after: float | None = None,
    code: int | None = None,
    errors: Sequence[str] = (),
) -> PagerError:
    """The error for a non-2xx answer, by PagerDuty's retry table (the same for the Events
    and REST APIs): 429 (`throttled`) and 408/5xx (`unavailable`) are temporary, retried
    after the hint when there is one; any other 4xx (`refused`) is permanent. 1xx/3xx never
    reach us (aiohttp follows redirects), so one is taken as transient."""
    if status == 429:
        after = throttled_retry_after if throttled_retry_after is not None else retry_after
        return TemporaryPagerError(
            throttled, retry_after=after, status=status, code=code, errors=errors
        )
    if status == 408 or status >= 500:
        return TemporaryPagerError(
            unavailable, retry_after=retry_after, status=status, code=code, errors=errors
        )
    if 400 <= status < 500:
        return PermanentPagerError(refused, status=status, code=code, errors=errors)
    return TemporaryPagerError(f"unexpected answer from PagerDuty ({status})", status=status)


def json_object(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None (PagerDuty's error pages are not always JSON)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


__all__ = [
    "InvalidIncidentId",
    "PagerError",
    "PermanentPagerError",
    "TemporaryPagerError",
    "failure",
    "json_object",
]

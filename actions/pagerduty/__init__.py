"""PagerDuty side effects: paging through the Events API, updating incidents through REST.

The clients live in their own modules (`events`, `incidents`, `ratelimit`); this package
module holds only the error types they share, so that the durable retry queue (which
lives elsewhere) can classify a failure without knowing which API produced it:

- `PermanentPagerError`: PagerDuty rejected the request; sending it again cannot help.
- `TemporaryPagerError`: throttled, a server error, or the network; retry later, after
  `retry_after` seconds when PagerDuty (or the client) suggested a delay.

Messages never contain the routing key or the API token: both are secrets, and these
messages end up in logs and in Slack threads.
"""

from __future__ import annotations

from collections.abc import Sequence


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


__all__ = [
    "InvalidIncidentId",
    "PagerError",
    "PermanentPagerError",
    "TemporaryPagerError",
]

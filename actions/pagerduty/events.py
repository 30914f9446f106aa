"""Paging through PagerDuty's Events API v2 (`POST /v2/enqueue`).

The client makes exactly one HTTP attempt per `send`: retries belong to the durable
queue (the outbox/scheduler), which survives restarts and must not double-page. What the
client owes that queue is an exact classification of each outcome, following PagerDuty's
documented retry table:

| answer                         | meaning                  | raised                         |
| ------------------------------ | ------------------------ | ------------------------------ |
| 202                            | accepted                 | (returns the dedup_key)        |
| 400 (and other 4xx)            | the event is invalid     | `PermanentPagerError`          |
| 429                            | throttled                | `TemporaryPagerError` + hint   |
| 5xx, timeout, connection error | PagerDuty or the network | `TemporaryPagerError`          |

The routing key is a secret: it is kept out of `PagerEvent`'s repr, out of exception
messages (even if PagerDuty were to echo it) and out of logs.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

import aiohttp

from actions.pagerduty import PermanentPagerError, TemporaryPagerError, failure, json_object
from actions.pagerduty.ratelimit import RateLimiter

log = logging.getLogger(__name__)

EventAction = Literal["trigger", "acknowledge", "resolve"]
Severity = Literal["critical", "error", "warning", "info"]
EVENT_ACTIONS: frozenset[str] = frozenset(get_args(EventAction))
SEVERITIES: frozenset[str] = frozenset(get_args(Severity))

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
ENQUEUE_PATH = "/v2/enqueue"
MAX_SUMMARY = 1024  # documented maximum for payload.summary
MAX_DEDUP_KEY = 255  # documented maximum for dedup_key
# PagerDuty sends no Retry-After on a throttled event; its rate-limit page suggests
# retrying "30 seconds apart", so that is the hint unless the caller picks another.
RATE_LIMITED_RETRY_AFTER = 30.0
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=10)
_REDACTED = "[routing key]"


@dataclass(frozen=True)
class Link:
    """A link attached to the incident (e.g. the Slack thread or the runbook)."""

    href: str
    text: str | None = None


@dataclass(frozen=True)
class EventPayload:
    """The PD-CEF part of a trigger event. `event_class` is sent as `class`."""

    summary: str
    source: str
    severity: Severity
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    event_class: str | None = None
    custom_details: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.summary.strip():
            raise ValueError("payload.summary must not be empty")
        if not self.source.strip():
            raise ValueError("payload.source must not be empty")
        if self.severity not in SEVERITIES:
            raise ValueError(f"payload.severity must be one of {sorted(SEVERITIES)}")
        if self.timestamp is not None and self.timestamp.utcoffset() is None:
            # PagerDuty would read a naive time in its own zone; refuse to guess.
            raise ValueError("payload.timestamp must be timezone-aware")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "summary": truncate_summary(self.summary),
            "source": self.source,
            "severity": self.severity,
        }
        if self.timestamp is not None:
            body["timestamp"] = self.timestamp.isoformat()
        optional = {"component": self.component, "group": self.group, "class": self.event_class}
        body.update({name: value for name, value in optional.items() if value is not None})
        if self.custom_details is not None:
            body["custom_details"] = dict(self.custom_details)
        return body


@dataclass(frozen=True)
class PagerEvent:
    """One Events API v2 alert event.

    Build it with `trigger()`, `acknowledge()` or `resolve()`; the constructor checks
    what PagerDuty would otherwise reject with a 400 (a trigger needs a payload, an
    acknowledge or resolve needs the dedup_key of the alert it refers to).
    """

    routing_key: str = field(repr=False)
    event_action: EventAction
    dedup_key: str | None = None
    payload: EventPayload | None = None
    links: tuple[Link, ...] = ()
    client: str | None = None
    client_url: str | None = None

    def __post_init__(self) -> None:
        if not self.routing_key:
            raise ValueError("routing_key must not be empty")
        if self.event_action not in EVENT_ACTIONS:
            raise ValueError(f"event_action must be one of {sorted(EVENT_ACTIONS)}")
        if self.dedup_key is not None and not 0 < len(self.dedup_key) <= MAX_DEDUP_KEY:
            raise ValueError(f"dedup_key must be 1 to {MAX_DEDUP_KEY} characters")
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("a trigger event needs a payload")
        if self.event_action != "trigger" and self.dedup_key is None:
            raise ValueError(f"an {self.event_action} event needs the dedup_key of its alert")

    @classmethod
    def trigger(
        cls,
        routing_key: str,
        payload: EventPayload,
        *,
        dedup_key: str | None = None,
        links: tuple[Link, ...] = (),
        client: str | None = None,
        client_url: str | None = None,
    ) -> PagerEvent:
        return cls(routing_key, "trigger", dedup_key, payload, links, client, client_url)

    @classmethod
    def acknowledge(cls, routing_key: str, dedup_key: str) -> PagerEvent:
        return cls(routing_key, "acknowledge", dedup_key)

    @classmethod
    def resolve(cls, routing_key: str, dedup_key: str) -> PagerEvent:
        return cls(routing_key, "resolve", dedup_key)

    def to_json(self) -> dict[str, Any]:
        """The request body, as documented for `POST /v2/enqueue`."""
        body: dict[str, Any] = {"routing_key": self.routing_key, "event_action": self.event_action}
        if self.dedup_key is not None:
            body["dedup_key"] = self.dedup_key
        # Payload, links and client only mean something when opening an alert.
        if self.event_action == "trigger" and self.payload is not None:
            body["payload"] = self.payload.to_json()
            if self.links:
                body["links"] = [
                    {"href": link.href, **({"text": link.text} if link.text else {})}
                    for link in self.links
                ]
            if self.client is not None:
                body["client"] = self.client
            if self.client_url is not None:
                body["client_url"] = self.client_url
        return body


def truncate_summary(summary: str, limit: int = MAX_SUMMARY) -> str:
    """Fit a summary into PagerDuty's limit, marking the cut with an ellipsis."""
    if len(summary) <= limit:
        return summary
    return summary[: limit - 1] + "…"


def backoff(
    attempt: int,
    *,
    base: float = 5.0,
    factor: float = 2.0,
    cap: float = 300.0,
    jitter: float = 0.2,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry).

    Exponential (`base * factor**(attempt-1)`), capped at `cap`, then spread by up to
    ±`jitter` (a fraction) so that many pages failing together do not retry together.
    `rand` returns a float in [0, 1); tests pass a constant to make the result exact.
    The default cap of five minutes follows PagerDuty's advice to back off "a few
    minutes" when throttled.
    """
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    if not 0 <= jitter < 1:
        raise ValueError("jitter is a fraction in [0, 1)")
    # Bound the exponent: the cap is reached long before, and floats overflow past ~1000.
    delay = min(cap, base * factor ** min(attempt - 1, 64))
    spread = 1.0 + jitter * (2.0 * rand() - 1.0)
    return min(cap, delay * spread)


class EventsClient:
    """Sends events to `<events_url>/v2/enqueue`, one HTTP attempt per call."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        events_url: str = DEFAULT_EVENTS_URL,
        *,
        limiter: RateLimiter | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        rate_limited_retry_after: float = RATE_LIMITED_RETRY_AFTER,
    ) -> None:
        base = events_url.rstrip("/")
        # Accept the full enqueue URL too: it is what PagerDuty's pages show.
        self._url = base if base.endswith(ENQUEUE_PATH) else base + ENQUEUE_PATH
        self._session = session
        self._limiter = limiter
        self._timeout = timeout
        self._rate_limited_retry_after = rate_limited_retry_after

    @property
    def url(self) -> str:
        return self._url

    async def send(self, event: PagerEvent) -> str:
        """Send one event; return the dedup_key PagerDuty answered with.

        Raises `PermanentPagerError` or `TemporaryPagerError` (see the module docstring).
        """
        if self._limiter is not None:
            await self._limiter.acquire(event.routing_key)
        try:
            async with self._session.post(
                self._url, json=event.to_json(), timeout=self._timeout
            ) as response:
                status = response.status
                retry_after_header = response.headers.get("Retry-After")
                raw = await response.read()
        except TimeoutError as exc:
            log.warning("pagerduty %s for %s timed out", event.event_action, event.dedup_key)
            raise TemporaryPagerError("PagerDuty Events API timed out") from exc
        except aiohttp.ClientError as exc:
            # The routing key travels in the body, never the URL, so aiohttp's own
            # messages (host, port, OS error) cannot contain it.
            log.warning("pagerduty %s failed: %s", event.event_action, exc)
            raise TemporaryPagerError(
                f"could not reach PagerDuty Events API: {type(exc).__name__}: {exc}"
            ) from exc

        body = json_object(raw)
        if 200 <= status < 300:
            return self._accepted(event, body)

        message, errors = _describe(body, raw, event.routing_key)
        detail = f"{message}: {'; '.join(errors)}" if errors else message
        log.warning(
            "pagerduty %s for %s answered %d: %s",
            event.event_action,
            event.dedup_key,
            status,
            detail,
        )
        retry_after = _seconds(retry_after_header)
        raise failure(
            status,
            throttled=f"PagerDuty throttled the event (429): {detail}",
            unavailable=f"PagerDuty Events API error {status}: {detail}",
            refused=f"PagerDuty rejected the event ({status}): {detail}",
            retry_after=retry_after,
            throttled_retry_after=retry_after or self._rate_limited_retry_after,
            errors=errors,
        )

    def _accepted(self, event: PagerEvent, body: dict[str, Any] | None) -> str:
        dedup_key = body.get("dedup_key") if body else None
        if isinstance(dedup_key, str) and dedup_key:
            return dedup_key
        if event.dedup_key is not None:
            return event.dedup_key
        # Accepted, but we cannot refer to the alert later. Retrying would page twice,
        # so this is not a temporary error.
        raise PermanentPagerError("PagerDuty accepted the event but returned no dedup_key")


def _describe(body: dict[str, Any] | None, raw: bytes, secret: str) -> tuple[str, list[str]]:
    """PagerDuty's message and error list, with the routing key scrubbed out of both."""
    if body is None:
        text = raw[:200].decode("utf-8", errors="replace").strip()
        return _scrub(text or "no response body", secret), []
    message = body.get("message")
    errors = body.get("errors")
    text = str(message) if message else str(body.get("status") or "no message")
    details = [str(item) for item in errors] if isinstance(errors, list) else []
    return _scrub(text, secret), [_scrub(item, secret) for item in details]


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, _REDACTED) if secret else text


def _seconds(header: str | None) -> float | None:
    """A Retry-After in delta-seconds; anything else (an HTTP date) means "no hint"."""
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None
    return seconds if seconds > 0 else None

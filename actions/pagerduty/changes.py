"""PagerDuty change events (Events API v2 `POST /v2/change/enqueue`): what changed on a
service, shown beside its incidents as "recent changes".

One HTTP attempt per call, classified like alert events (actions/pagerduty/events.py):
202 accepted, 4xx refused for good, 429/5xx/network temporary. A change event has no
dedup_key, so PagerDuty cannot fold a repeat: the durable queue that calls this must
send each one once (bot/pagerduty/changes.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from actions.pagerduty import TemporaryPagerError, failure, json_object
from actions.pagerduty.events import (
    DEFAULT_TIMEOUT,
    ENQUEUE_PATH,
    MAX_SUMMARY,
    RATE_LIMITED_RETRY_AFTER,
    Link,
    _describe,
    _seconds,
)
from actions.pagerduty.ratelimit import RateLimiter

log = logging.getLogger(__name__)

CHANGE_PATH = "/v2/change/enqueue"


@dataclass(frozen=True)
class ChangeEvent:
    routing_key: str = field(repr=False)
    summary: str
    timestamp: str
    source: str
    custom_details: dict[str, Any] = field(default_factory=dict)
    links: tuple[Link, ...] = ()

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "routing_key": self.routing_key,
            "payload": {
                "summary": self.summary[:MAX_SUMMARY],
                "timestamp": self.timestamp,
                "source": self.source,
                "custom_details": self.custom_details,
            },
        }
        if self.links:
            body["links"] = [
                {"href": link.href, **({"text": link.text} if link.text else {})}
                for link in self.links
            ]
        return body


def change_url(events_url: str) -> str:
    """The change endpoint beside the alert one, whichever of the two PAGERDUTY_EVENTS_URL
    names (or only the host)."""
    base = events_url.rstrip("/").removesuffix(ENQUEUE_PATH)
    return base + CHANGE_PATH


async def send_change(
    http: aiohttp.ClientSession,
    events_url: str,
    event: ChangeEvent,
    *,
    limiter: RateLimiter | None = None,
    timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
) -> None:
    """Send one change event; raises PermanentPagerError or TemporaryPagerError."""
    if limiter is not None:
        await limiter.acquire(event.routing_key)
    try:
        async with http.post(
            change_url(events_url), json=event.to_json(), timeout=timeout
        ) as response:
            status = response.status
            retry_after_header = response.headers.get("Retry-After")
            raw = await response.read()
    except TimeoutError as exc:
        raise TemporaryPagerError("PagerDuty Events API timed out") from exc
    except aiohttp.ClientError as exc:
        raise TemporaryPagerError(
            f"could not reach PagerDuty Events API: {type(exc).__name__}: {exc}"
        ) from exc
    if 200 <= status < 300:
        return
    message, errors = _describe(json_object(raw), raw, event.routing_key)
    detail = f"{message}: {'; '.join(errors)}" if errors else message
    log.warning("pagerduty change event answered %d: %s", status, detail)
    retry_after = _seconds(retry_after_header)
    raise failure(
        status,
        throttled=f"PagerDuty throttled the change event (429): {detail}",
        unavailable=f"PagerDuty Events API error {status}: {detail}",
        refused=f"PagerDuty rejected the change event ({status}): {detail}",
        retry_after=retry_after,
        throttled_retry_after=retry_after or RATE_LIMITED_RETRY_AFTER,
        errors=errors,
    )

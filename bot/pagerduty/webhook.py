"""`POST /webhooks/pagerduty`: signed v3 webhooks reflected into Slack.

Checked in this order: size (413), signature (401), shape (400, naming every field the
bot cannot act without). PagerDuty disables a subscription after three 4xx in a row, so
anything signed and usable is answered 2xx: event types we do not act on are logged, and
unknown ones counted in /metrics under `other`, since PagerDuty adds types over time. The
change an event makes is committed before the answer (bot/pagerduty/incident_events.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.pagerduty import WebhookPayloadError, is_unknown, parse_webhook
from bot.clock import Clock
from bot.http.bodies import error, read_body, refusal_reason
from bot.metrics import Metrics
from bot.pagerduty.incident_events import IncidentEvents
from bot.pagerduty.receipts import first_delivery
from bot.pagerduty.signature import HEADER, verify_signature
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
# The label every unknown event type is counted under.
OTHER_EVENT_TYPE = "other"
# Enough for any real type name (the longest documented is under 40 characters).
MAX_LOGGED_TYPE = 100


class PagerDutyInbox(Protocol):
    """What the webhook reads, each at request time: `settings` changes when secrets are
    rotated (SIGHUP)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def incident_events(self) -> IncidentEvents: ...
    def wake_outbox(self) -> None: ...


def handler(service: PagerDutyInbox) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def pagerduty_webhook(request: web.Request) -> web.Response:
        rejected = service.metrics.webhook_rejected
        # PagerDuty signs the body, so it is read first: in time and size (bot/http/bodies.py).
        body = await read_body(request, MAX_BODY)
        if isinstance(body, web.Response):
            rejected.labels("pagerduty", refusal_reason(body)).inc()
            return body
        secret = service.settings.pagerduty_webhook_secret
        secrets = [secret.get_secret_value()] if secret is not None else []
        if not verify_signature(body, request.headers.get(HEADER), secrets):
            rejected.labels("pagerduty", "unauthorised").inc()
            if not any(secrets):
                log.warning("PagerDuty webhook refused: PAGERDUTY_WEBHOOK_SECRET is not set")
            return error(401, "missing or wrong X-PagerDuty-Signature")
        try:
            hook = parse_webhook(body)
        except WebhookPayloadError as exc:
            rejected.labels("pagerduty", "invalid").inc()
            log.warning("PagerDuty webhook refused: %s", exc)
            return error(400, str(exc))
        event_type = hook.event.event_type
        if not hook.routed:
            if is_unknown(event_type):
                # Label values come from a fixed set: every type the bot does not know is
                # one `other` series (the type itself is in the log line), so a sender
                # inventing types cannot grow /metrics without end.
                service.metrics.pagerduty_unknown_events.labels(OTHER_EVENT_TYPE).inc()
            log.info("PagerDuty %r event ignored (not acted on)", event_type[:MAX_LOGGED_TYPE])
            return web.json_response({"status": "ignored"})
        now = service.clock.now()
        async with service.sessions.begin() as session:
            # PagerDuty's signature carries no timestamp, so a captured webhook could be
            # sent again at any time; each event id is applied once (its retries share the
            # id too), and an event older than its incident's last change not at all.
            if not await first_delivery(session, hook, now):
                rejected.labels("pagerduty", "replayed").inc()
                return web.json_response({"status": "duplicate", "event_id": hook.event.id})
            outcome = await service.incident_events.apply(session, hook, now)
        if outcome == "stale":  # 2xx: PagerDuty would retry, then disable, on a 4xx
            rejected.labels("pagerduty", "stale").inc()
        service.wake_outbox()
        return web.json_response({"status": outcome})

    return pagerduty_webhook

"""`POST /webhooks/pagerduty`: signed v3 webhooks reflected into Slack.

Checked in this order: size (413), signature (401), shape (400, naming every field the
bot cannot act without). PagerDuty disables a subscription after three 4xx in a row, so
anything signed and usable is answered 2xx: event types we do not act on are logged, and
unknown ones counted in /metrics by type, since PagerDuty adds types over time. The change
an event makes is committed before the answer (bot/pagerduty/incident_events.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.pagerduty import WebhookPayloadError, is_unknown, parse_webhook
from bot.approvals.store import first_receipt
from bot.clock import Clock
from bot.http.bodies import error, read_body, refusal_reason
from bot.metrics import Metrics
from bot.pagerduty.incident_events import IncidentEvents
from bot.pagerduty.signature import HEADER, verify_signature
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
# Event types are label values: keep a misbehaving sender from growing them without end.
MAX_EVENT_TYPE_LABEL = 64


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
                service.metrics.pagerduty_unknown_events.labels(
                    event_type[:MAX_EVENT_TYPE_LABEL]
                ).inc()
            log.info("PagerDuty %s event ignored (not acted on)", event_type)
            return web.json_response({"status": "ignored", "event_type": event_type})
        now = service.clock.now()
        async with service.sessions.begin() as session:
            # PagerDuty's signature carries no timestamp, so a captured webhook could be
            # sent again; each event id is applied once (its retries share the id too).
            if not await first_receipt(session, f"pagerduty:{hook.event.id}"[:64], now):
                rejected.labels("pagerduty", "replayed").inc()
                return web.json_response({"status": "duplicate", "event_id": hook.event.id})
            outcome = await service.incident_events.apply(session, hook, now)
        service.wake_outbox()
        return web.json_response({"status": outcome})

    return pagerduty_webhook

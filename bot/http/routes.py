"""HTTP routes: webhooks in, Slack requests in, health and metrics out.

Webhook handlers validate and persist, then answer; the slow work (rendering, Slack
calls) happens after the answer in the delivery processor and the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from alerts.alertmanager import AlertmanagerNotification, PayloadError, parse_notification
from alerts.json_bodies import JsonBodyError, is_json_content_type, load_json
from alerts.policy import priority_of
from bot.alerts.intake import IntakeWriter
from bot.config import Config
from bot.heartbeats import http as heartbeat_http
from bot.http import bodies
from bot.http.bodies import closing, error, read_body, refusal_reason
from bot.http.limits import LIMITS, RequestLimits, handler_args
from bot.http.webhook_auth import is_authorised
from bot.pagerduty import webhook as pagerduty_webhook
from bot.slack.requests import SlackRequests
from bot.storage import migrate

log = logging.getLogger(__name__)

MAX_BODY = bodies.MAX_BODY
# Bodies above this are decoded in a worker thread: a 30 MB group takes a few hundred
# milliseconds to parse, which must not stall every other request and the outbox.
PARSE_IN_THREAD = 256 * 1024
SERVICE_KEY = web.AppKey("service", object)
# "sandbox" or "production", set by the runner; /readyz says which.
MODE_KEY = web.AppKey("mode", str)


class WebEdge(pagerduty_webhook.PagerDutyInbox, heartbeat_http.HeartbeatEdge, Protocol):
    """What the routes read, each at request time: the token and settings change when
    secrets are rotated (SIGHUP)."""

    @property
    def config(self) -> Config: ...
    @property
    def alertmanager_token(self) -> str: ...
    @property
    def intake(self) -> IntakeWriter: ...
    @property
    def slack_requests(self) -> SlackRequests: ...
    @property
    def engine(self) -> AsyncEngine: ...
    def wake_processor(self) -> None: ...


def _service(request: web.Request) -> WebEdge:
    return request.app[SERVICE_KEY]  # type: ignore[return-value]


def _decode(body: bytes, received_at: datetime) -> tuple[Any, AlertmanagerNotification]:
    """JSON, then the notification; raises JsonBodyError or PayloadError."""
    data = load_json(body)
    return data, parse_notification(data, received_at=received_at)


async def alertmanager_webhook(request: web.Request) -> web.Response:
    service = _service(request)
    started = time.perf_counter()
    metrics = service.metrics
    if not is_authorised(
        request.headers.get("Authorization"),
        service.alertmanager_token,
        username=service.settings.alertmanager_webhook_username,
    ):
        metrics.webhook_rejected.labels("alertmanager", "unauthorised").inc()
        # Refused on its headers: nothing of the body is read, and the connection is
        # closed rather than kept for another try.
        return closing(
            web.json_response(
                {"status": "error", "error": "missing or wrong token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="chatops"'},
            )
        )
    body = await read_body(request, service.config.http.max_body, verified=True)
    if isinstance(body, web.Response):
        metrics.webhook_rejected.labels("alertmanager", refusal_reason(body)).inc()
        return body
    received_at = service.clock.now()
    try:
        if len(body) > PARSE_IN_THREAD:
            data, notification = await asyncio.to_thread(_decode, body, received_at)
        else:
            data, notification = _decode(body, received_at)
    except JsonBodyError as exc:
        metrics.webhook_rejected.labels("alertmanager", "not_json").inc()
        return error(400, str(exc))
    except PayloadError as exc:
        metrics.webhook_rejected.labels("alertmanager", "invalid").inc()
        return web.json_response(
            {"status": "error", "error": str(exc), "problems": exc.problems}, status=400
        )
    if not notification.alerts:
        # Nothing to post; still a valid notification, so Alertmanager must not retry it.
        return web.json_response({"status": "ignored", "reason": "no alerts"})
    # A heartbeat's signal (Alertmanager's Watchdog) is taken here and never posted.
    data = await heartbeat_http.take_signals(service.heartbeats, notification, data)
    if data is None:
        return web.json_response({"status": "heartbeat"})
    delivery_id = await service.intake.store(
        notification.source, data, group_key=notification.key_digest
    )
    for alert in notification.alerts:
        priority = priority_of(alert.labels, service.config.alerts)
        metrics.alerts_received.labels(alert.status, priority).inc()
    service.wake_processor()
    metrics.webhook_latency.labels("alertmanager").observe(time.perf_counter() - started)
    return web.json_response({"status": "accepted", "delivery": delivery_id})


async def slack_events(request: web.Request) -> web.Response:
    return await _service(request).slack_requests.handle(request)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    service = _service(request)
    mode = request.app.get(MODE_KEY, "production")
    try:
        async with service.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        at_head = await migrate.is_ready(service.engine)
    except Exception as exc:
        return web.json_response(
            {
                "status": "unavailable",
                "mode": mode,
                "database": f"unreachable ({type(exc).__name__})",
            },
            status=503,
        )
    if not at_head:
        return web.json_response(
            {
                "status": "unavailable",
                "mode": mode,
                "database": "migrations pending: run `chatops migrate`",
            },
            status=503,
        )
    return web.json_response({"status": "ready", "mode": mode, "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    service = _service(request)
    # Every replica reads the heartbeats' last signals, whichever replica heard them.
    await service.heartbeats.refresh_gauges()
    return web.Response(
        body=service.metrics.render(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


def json_only(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Refuse a webhook body that is not declared JSON (415), before anything reads it.
    Alertmanager, Grafana and PagerDuty all send `application/json`."""

    async def checked(request: web.Request) -> web.StreamResponse:
        if not is_json_content_type(request.content_type):
            return error(
                415,
                f"Content-Type must be application/json, not {request.content_type[:100]!r}",
            )
        return await handle(request)

    return checked


def build_web_app(service: WebEdge) -> web.Application:
    # For `request.read()` (PagerDuty); the Alertmanager webhook reads up to http.max_body.
    # handler_args: header and idle timeouts, and no long lingering read (bot/http/limits.py).
    http = service.config.http
    app = web.Application(client_max_size=MAX_BODY, handler_args=handler_args(http))
    app[SERVICE_KEY] = service
    app[LIMITS] = RequestLimits.of(http)
    app.router.add_post("/webhooks/alertmanager", json_only(alertmanager_webhook))
    app.router.add_post("/webhooks/pagerduty", json_only(pagerduty_webhook.handler(service)))
    app.router.add_post("/slack/events", slack_events)
    app.router.add_post("/heartbeats/{name}", heartbeat_http.handler(service))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app

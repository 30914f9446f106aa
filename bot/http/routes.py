"""HTTP routes: webhooks in, Slack requests in, health and metrics out.

Webhook handlers validate and persist, then answer; the slow work (rendering, Slack
calls) happens after the answer in the delivery processor and the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from alerts.alertmanager import AlertmanagerNotification, PayloadError, parse_notification
from alerts.json_bodies import MAX_DEPTH, JsonBodyError, is_json_content_type, load_json
from alerts.policy import priority_of
from bot.alerts.intake import IntakeWriter
from bot.config import Config
from bot.http.webhook_auth import is_authorised
from bot.pagerduty import webhook as pagerduty_webhook
from bot.slack.edge import event_key_of, too_deep
from bot.slack.replay_guard import ReplayGuard, window_end
from bot.storage import migrate

log = logging.getLogger(__name__)

# Slack's requests are small; the Alertmanager webhook's limit is `http.max_body`.
MAX_BODY = 1024 * 1024
# Bodies above this are decoded in a worker thread: a 30 MB group takes a few hundred
# milliseconds to parse, which must not stall every other request and the outbox.
PARSE_IN_THREAD = 256 * 1024
SERVICE_KEY = web.AppKey("service", object)


class RequestVerifier(Protocol):
    """Slack's signature check (slack_sdk's SignatureVerifier)."""

    def is_valid_request(self, body: str | bytes, headers: dict[str, str]) -> bool: ...


class WebEdge(pagerduty_webhook.PagerDutyInbox, Protocol):
    """What the routes read, each at request time: the token, verifier and settings change
    when secrets are rotated (SIGHUP)."""

    @property
    def config(self) -> Config: ...
    @property
    def alertmanager_token(self) -> str: ...
    @property
    def intake(self) -> IntakeWriter: ...
    @property
    def slack_verifier(self) -> RequestVerifier | None: ...
    @property
    def replays(self) -> ReplayGuard: ...
    @property
    def slack_app(self) -> AsyncApp: ...
    @property
    def engine(self) -> AsyncEngine: ...
    def wake_processor(self) -> None: ...


def _service(request: web.Request) -> WebEdge:
    return request.app[SERVICE_KEY]  # type: ignore[return-value]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status)


async def _read_body(request: web.Request, limit: int = MAX_BODY) -> bytes | web.Response:
    """The body, up to `limit` bytes. Read from the stream (not `request.read()`, which
    stops at the app-wide 1 MiB) so that each endpoint has its own limit."""
    too_large = _error(413, f"body over {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        return too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > limit:
            return too_large
        chunks.append(chunk)
    return b"".join(chunks)


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
        return web.json_response(
            {"status": "error", "error": "missing or wrong token"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="chatops"'},
        )
    body = await _read_body(request, service.config.http.max_body)
    if isinstance(body, web.Response):
        metrics.webhook_rejected.labels("alertmanager", "too_large").inc()
        return body
    received_at = service.clock.now()
    try:
        if len(body) > PARSE_IN_THREAD:
            data, notification = await asyncio.to_thread(_decode, body, received_at)
        else:
            data, notification = _decode(body, received_at)
    except JsonBodyError as exc:
        metrics.webhook_rejected.labels("alertmanager", "not_json").inc()
        return _error(400, str(exc))
    except PayloadError as exc:
        metrics.webhook_rejected.labels("alertmanager", "invalid").inc()
        return web.json_response(
            {"status": "error", "error": str(exc), "problems": exc.problems}, status=400
        )
    if not notification.alerts:
        # Nothing to post; still a valid notification, so Alertmanager must not retry it.
        return web.json_response({"status": "ignored", "reason": "no alerts"})
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
    service = _service(request)
    body = await _read_body(request)
    if isinstance(body, web.Response):
        return body
    signature = request.headers.get("X-Slack-Signature", "")
    # Verified here rather than inside bolt so that a rotated signing secret (SIGHUP)
    # takes effect at once. Only a validly signed, fresh request enters the replay memory
    # (so unsigned junk cannot fill it); a second copy of one is refused before anything runs.
    # Bolt parses the body as soon as its request is built, so that comes after the checks.
    verifier = service.slack_verifier
    if verifier is None:
        return _error(404, "this bot receives Slack requests over Socket Mode")
    if not verifier.is_valid_request(body, dict(request.headers)):
        service.metrics.webhook_rejected.labels("slack", "unauthorised").inc()
        return _error(401, "missing, wrong or expired Slack signature")
    if too_deep(body):
        service.metrics.webhook_rejected.labels("slack", "invalid").inc()
        return _error(400, f"body nests deeper than {MAX_DEPTH} levels")
    now = datetime.now(UTC)
    expires_at = window_end(request.headers.get("X-Slack-Request-Timestamp"), now)
    if not await service.replays.first_time(f"sig:{signature}", expires_at, now):
        service.metrics.webhook_rejected.labels("slack", "replayed").inc()
        return _error(401, "replayed request")
    event_key = event_key_of(body)
    if event_key and not await service.replays.first_time(event_key, expires_at, now):
        # Slack's retry of an event another replica (or this one) already took: answering
        # 2xx stops the retries; running it again would double its effect.
        service.metrics.webhook_rejected.labels("slack", "duplicate").inc()
        return web.Response(status=200)
    bolt_request = AsyncBoltRequest(
        body=body.decode("utf-8", errors="replace"),
        query=request.query_string,
        headers={k: v for k, v in request.headers.items()},
    )
    try:
        bolt_response = await service.slack_app.async_dispatch(bolt_request)
    except BaseException:
        if event_key:
            await service.replays.forget(event_key)
        raise
    if event_key and bolt_response.status >= 500:
        await service.replays.forget(event_key)
    return await to_aiohttp_response(bolt_response)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    service = _service(request)
    try:
        async with service.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        at_head = await migrate.is_ready(service.engine)
    except Exception as exc:
        return web.json_response(
            {"status": "unavailable", "database": f"unreachable ({type(exc).__name__})"},
            status=503,
        )
    if not at_head:
        return web.json_response(
            {"status": "unavailable", "database": "migrations pending: run `chatops migrate`"},
            status=503,
        )
    return web.json_response({"status": "ready", "database": "ok"})


async def metrics(request: web.Request) -> web.Response:
    service = _service(request)
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
            return _error(
                415,
                f"Content-Type must be application/json, not {request.content_type[:100]!r}",
            )
        return await handle(request)

    return checked


def build_web_app(service: WebEdge) -> web.Application:
    # For `request.read()` (PagerDuty); the Alertmanager webhook reads up to http.max_body.
    app = web.Application(client_max_size=MAX_BODY)
    app[SERVICE_KEY] = service
    app.router.add_post("/webhooks/alertmanager", json_only(alertmanager_webhook))
    app.router.add_post("/webhooks/pagerduty", json_only(pagerduty_webhook.handler(service)))
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app

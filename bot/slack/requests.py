"""`POST /slack/events`: Slack's signed requests checked here, then handed to bolt.

Verified here rather than inside bolt so that a rotated signing secret (SIGHUP) takes
effect at once. Only a validly signed, fresh request enters the replay memory (so
unsigned junk cannot fill it); a second copy of one is refused before anything runs.
Bolt parses the body as soon as its request is built, so that comes after the checks.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from alerts.json_bodies import MAX_DEPTH
from bot.http.bodies import error, read_body, refusal_reason
from bot.metrics import Metrics
from bot.slack.edge import event_key_of, too_deep
from bot.slack.replay_guard import ReplayGuard, window_end


def _is_timestamp(value: str | None) -> bool:
    """Seconds since the epoch, as Slack sends them. The SDK's check calls `int()` on the
    header and raises on anything else (`abc`, `1e9`), which would answer an unsigned
    request 500 with a traceback in the log, instead of 401."""
    return value is not None and 0 < len(value) <= 12 and value.isascii() and value.isdigit()


class SlackRequests:
    def __init__(
        self, app: AsyncApp, signing_secret: str, replays: ReplayGuard, metrics: Metrics
    ) -> None:
        """Without a signing secret (Socket Mode) every request here is answered 404."""
        self._app = app
        self._replays = replays
        self._metrics = metrics
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None

    def use_signing_secret(self, secret: str) -> None:
        """A rotated signing secret (SIGHUP) checks the next request."""
        self._verifier = SignatureVerifier(secret)

    async def handle(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        if isinstance(body, web.Response):
            self._metrics.webhook_rejected.labels("slack", refusal_reason(body)).inc()
            return body
        signature = request.headers.get("X-Slack-Signature", "")
        verifier = self._verifier
        if verifier is None:
            return error(404, "this bot receives Slack requests over Socket Mode")
        if not _is_timestamp(request.headers.get("X-Slack-Request-Timestamp")) or not (
            verifier.is_valid_request(body, dict(request.headers))
        ):
            self._metrics.webhook_rejected.labels("slack", "unauthorised").inc()
            return error(401, "missing, wrong or expired Slack signature")
        if too_deep(body):
            self._metrics.webhook_rejected.labels("slack", "invalid").inc()
            return error(400, f"body nests deeper than {MAX_DEPTH} levels")
        now = datetime.now(UTC)
        expires_at = window_end(request.headers.get("X-Slack-Request-Timestamp"), now)
        if not await self._replays.first_time(f"sig:{signature}", expires_at, now):
            self._metrics.webhook_rejected.labels("slack", "replayed").inc()
            return error(401, "replayed request")
        event_key = event_key_of(body)
        if event_key and not await self._replays.first_time(event_key, expires_at, now):
            # Slack's retry of an event another replica (or this one) already took: answering
            # 2xx stops the retries; running it again would double its effect.
            self._metrics.webhook_rejected.labels("slack", "duplicate").inc()
            return web.Response(status=200)
        bolt_request = AsyncBoltRequest(
            body=body.decode("utf-8", errors="replace"),
            query=request.query_string,
            headers={k: v for k, v in request.headers.items()},
        )
        try:
            bolt_response = await self._app.async_dispatch(bolt_request)
        except BaseException:
            if event_key:
                await self._replays.forget(event_key)
            raise
        if event_key and bolt_response.status >= 500:
            await self._replays.forget(event_key)
        return await to_aiohttp_response(bolt_response)

"""Socket Mode: Slack's requests arrive over a WebSocket the bot opens, not at /slack/events.

For teams without a public URL. With `SLACK_APP_TOKEN` (an app-level token, `xapp-...`,
with the `connections:write` scope) `chatops serve` connects with slack_bolt's
`AsyncSocketModeHandler` around the same bolt `AsyncApp`, so the same listeners answer
commands, reactions and clicks; the aiohttp app keeps serving the webhooks, health and
metrics, and `/slack/events` answers 404 (Slack sends nothing there in Socket Mode, and
an endpoint that is not used is one less thing to attack).

Starting checks the token first with `apps.connections.open` and fails with a clear
`SocketModeError` (Slack's error word, never the token): slack_sdk's client would
otherwise retry a refused token forever in the background. The URL that call returns
is the one the handler connects to. Once connected, slack_sdk keeps the connection:
pings, reconnects on `disconnect` messages and on a dropped socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.settings import Settings

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
CONNECT_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0


class BoltService(Protocol):
    """What Socket Mode needs of the service: its bolt app, and the app token to connect."""

    @property
    def settings(self) -> Settings: ...
    @property
    def slack_app(self) -> AsyncApp: ...


class SocketModeError(Exception):
    """Socket Mode cannot start; the message says what to fix."""


def app_token_of(service: BoltService) -> str | None:
    token = service.settings.slack_app_token
    if token is None or not token.get_secret_value():
        return None
    return token.get_secret_value()


class SocketMode:
    """The bot's Socket Mode connection: `start()` after the service's startup, `stop()` first
    at shutdown (no new requests while the accepted work is finished)."""

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        *,
        ping_interval: float = 10.0,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self._app = app
        self._app_token = app_token
        self._ping_interval = ping_interval
        self._connect_timeout = connect_timeout
        self._handler: AsyncSocketModeHandler | None = None

    @classmethod
    def for_service(cls, service: BoltService, **options: float) -> SocketMode | None:
        """Socket Mode for the service's bolt app, or None when SLACK_APP_TOKEN is unset."""
        token = app_token_of(service)
        if token is None:
            return None
        return cls(service.slack_app, token, **options)

    @property
    def connected(self) -> bool:
        client = None if self._handler is None else self._handler.client
        session = None if client is None else client.current_session
        return session is not None and not session.closed

    async def start(self) -> None:
        client = self._app.client
        try:
            opened = await client.apps_connections_open(app_token=self._app_token)
        except SlackApiError as exc:
            word = exc.response.get("error") if exc.response is not None else None
            raise SocketModeError(
                f"Slack refused to open a Socket Mode connection ({word}): SLACK_APP_TOKEN "
                "must be the app-level token (xapp-...) of this app, with the "
                "connections:write scope, and Socket Mode must be on in the app settings"
            ) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise SocketModeError(
                f"could not reach Slack at {client.base_url} to open a Socket Mode "
                f"connection ({type(exc).__name__})"
            ) from None
        handler = AsyncSocketModeHandler(
            self._app, self._app_token, ping_interval=self._ping_interval
        )
        # Connect to the URL just issued instead of asking for a second one.
        handler.client.wss_uri = str(opened["url"])
        self._handler = handler
        try:
            await asyncio.wait_for(
                handler.connect_async(),  # type: ignore[no-untyped-call]
                self._connect_timeout,
            )
        except TimeoutError:
            await self.stop()
            raise SocketModeError(
                f"the Socket Mode WebSocket did not connect within {self._connect_timeout:g}s"
            ) from None
        log.info("connected to Slack by Socket Mode")

    async def stop(self) -> None:
        handler, self._handler = self._handler, None
        if handler is None:
            return
        client = handler.client
        # Stop the client's reader first: closing a WebSocket while another task reads it
        # lets that task take the server's close reply, and close() then waits its full
        # 10 s timeout. No reconnects from here on.
        client.closed = True
        client.auto_reconnect_enabled = False
        receiver = client.message_receiver
        if receiver is not None and not receiver.done():
            receiver.cancel()
            await asyncio.wait([receiver], timeout=2)
        try:
            await asyncio.wait_for(
                handler.close_async(),  # type: ignore[no-untyped-call]
                STOP_TIMEOUT,
            )
        except Exception as exc:
            log.warning("Socket Mode connection did not close cleanly (%s)", type(exc).__name__)
        # close_async() cancels the client's tasks; let them finish cancelling here.
        tasks = [client.message_processor, client.current_session_monitor, client.message_receiver]
        pending = [t for t in tasks if t is not None and not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=2)
        log.info("Socket Mode connection closed")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def refuse_http_events(request: web.Request, handler: Handler) -> web.StreamResponse:
    """In Socket Mode, Slack's requests come over the socket: /slack/events is not served."""
    if request.path == SLACK_EVENTS_PATH:
        return web.json_response(
            {
                "status": "error",
                "error": "Socket Mode is on (SLACK_APP_TOKEN): Slack requests arrive over "
                "the WebSocket, not at /slack/events",
            },
            status=404,
        )
    return await handler(request)


def serve_http_events_off(app: web.Application) -> None:
    """Stop routing /slack/events to bolt; call before the aiohttp app starts."""
    app.middlewares.append(refuse_http_events)

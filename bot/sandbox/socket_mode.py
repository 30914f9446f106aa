"""Slack's side of Socket Mode: the WebSocket an app opens instead of serving a Request URL.

The protocol, as Slack documents it ("Using Socket Mode", docs.slack.dev/apis/events-api/
using-socket-mode, and the apps.connections.open method reference):

1. The app calls `apps.connections.open` with its app-level token (`xapp-...`) in the
   Authorization header and gets `{"ok": true, "url": "wss://..."}`: a one-time ticket.
2. It opens a WebSocket to that URL; Slack first sends `{"type": "hello", ...}`.
3. Slack delivers each payload in an envelope: `{"envelope_id", "type": "events_api" |
   "slash_commands" | "interactive", "payload", "accepts_response_payload"}` (Events API
   redeliveries add `retry_attempt` / `retry_reason`). The payload is exactly what would
   have been POSTed to the Request URL, as a JSON object.
4. The app acknowledges with `{"envelope_id": ..., "payload": ...}` (payload optional: a
   slash command's immediate response, for instance) within 3 seconds.
5. Slack may send `{"type": "disconnect", "reason": "warning" | "refresh_requested" |
   "link_disabled", "debug_info": {...}}`; the app then opens a new connection.
   An app may hold up to 10 connections; each payload goes to any one of them.

This module is that server side for the emulator. Deliveries wait for the app's ack and
fail with `AckTimeout` after `ack_timeout` seconds (3, as Slack gives up after 3 s), so a
listener that forgets `ack()` fails a test with a clear message instead of hanging.
Differences from Slack, on purpose: tickets do not expire (they are single-use), the
emulator does not redeliver unacknowledged events by itself (send again with
`retry_num` to play a redelivery), and it never refreshes connections on its own
(`disconnect()` plays that).
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.sandbox.store import APP_ID, JSON

log = logging.getLogger(__name__)

ACK_TIMEOUT = 3.0  # seconds; Slack's own limit for acknowledging an envelope
MAX_CONNECTIONS = 10  # Slack allows up to 10 open connections per app
SOCKET_PATH = "/_emulator/socket/"

EVENTS_API = "events_api"
SLASH_COMMANDS = "slash_commands"
INTERACTIVE = "interactive"


class AckTimeout(TimeoutError):
    """The app did not acknowledge an envelope in time (Slack would show an error or retry)."""


class NoSocketConnection(RuntimeError):
    """A delivery over Socket Mode was asked for, but no app is connected."""


@dataclass
class Delivery:
    """One envelope sent to the app, and how it was acknowledged."""

    envelope: JSON
    connection: int
    sent_at: float
    acked: bool = False
    ack_payload: JSON | None = None
    acked_at: float | None = None
    # "timeout" or "connection closed" when the delivery failed.
    failure: str | None = None

    @property
    def envelope_id(self) -> str:
        return str(self.envelope["envelope_id"])

    @property
    def type(self) -> str:
        return str(self.envelope["type"])


@dataclass
class _Connection:
    id: int
    ws: web.WebSocketResponse
    pending: dict[str, asyncio.Future[JSON | None]] = field(default_factory=dict)


def _is_bot_or_user_token(token: str) -> bool:
    return token.startswith(("xoxb-", "xoxp-", "xoxe-"))


class SocketModeServer:
    """Tickets, WebSocket connections and envelope deliveries for one emulated app."""

    def __init__(
        self,
        root_url: Callable[[], str],
        *,
        app_token: str | None = None,
        bot_token: Callable[[], str] = lambda: "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app_token = app_token
        self.bot_token = bot_token
        self.ack_timeout = ACK_TIMEOUT
        self.deliveries: list[Delivery] = []
        # Acks whose envelope_id matches nothing pending (late, duplicate or made up).
        self.stray_acks: list[JSON] = []
        self._root_url = root_url
        self._clock = clock
        self._tickets: set[str] = set()
        self._connections: list[_Connection] = []
        self._ids = itertools.count(1)
        self._changed: asyncio.Condition | None = None

    # -- apps.connections.open ----------------------------------------------------

    def open(self, token: object) -> JSON:
        """The answer of `apps.connections.open` for the token it was called with."""
        if token is None or token == "":
            return {"ok": False, "error": "not_authed"}
        given = str(token)
        if self.app_token is None or not hmac.compare_digest(
            given.encode(), self.app_token.encode()
        ):
            # A bot or user token is a valid token of the wrong kind for this method.
            bot_token = self.bot_token()
            if (bot_token and hmac.compare_digest(given.encode(), bot_token.encode())) or (
                _is_bot_or_user_token(given)
            ):
                return {"ok": False, "error": "not_allowed_token_type"}
            return {"ok": False, "error": "invalid_auth"}
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        root = self._root_url()
        ws_root = "ws://" + root.removeprefix("http://") if root.startswith("http://") else root
        return {"ok": True, "url": f"{ws_root.rstrip('/')}{SOCKET_PATH}{ticket}"}

    def is_app_token(self, token: object) -> bool:
        return (
            self.app_token is not None
            and token is not None
            and hmac.compare_digest(str(token).encode(), self.app_token.encode())
        )

    # -- connections ----------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(SOCKET_PATH + "{ticket}", self._handle_socket)

    @property
    def connected(self) -> bool:
        return any(not c.ws.closed for c in self._connections)

    @property
    def connection_count(self) -> int:
        return len([c for c in self._connections if not c.ws.closed])

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _notify(self) -> None:
        condition = self._condition()
        async with condition:
            condition.notify_all()

    async def wait_connected(self, timeout: float = 5.0, *, count: int = 1) -> None:
        """Wait until `count` app connections are open (their `hello` sent)."""
        condition = self._condition()
        try:
            async with condition:
                await asyncio.wait_for(
                    condition.wait_for(lambda: self.connection_count >= count), timeout
                )
        except TimeoutError:
            raise AssertionError(
                f"no Socket Mode connection within {timeout}s: is SLACK_APP_TOKEN set to the "
                f"emulator's app token and the socket handler started? "
                f"(apps.connections.open tickets issued and unused: {len(self._tickets)})"
            ) from None

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["ticket"]
        if ticket not in self._tickets:
            # Tickets are single-use: a reconnect must call apps.connections.open again.
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        if self.connection_count >= MAX_CONNECTIONS:
            return web.json_response({"ok": False, "error": "too_many_websockets"}, status=429)
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()  # answers the client's pings itself (autoping)
        await ws.prepare(request)
        connection = _Connection(next(self._ids), ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": self.connection_count + 1,
                "debug_info": {
                    "host": "applink-emulator",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        )
        self._connections.append(connection)
        await self._notify()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(connection, message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self._connections.remove(connection)
            for envelope_id, future in connection.pending.items():
                if not future.done():
                    future.set_exception(
                        ConnectionError(
                            f"the Socket Mode connection closed before envelope {envelope_id} "
                            "was acknowledged"
                        )
                    )
            await self._notify()
        return ws

    def _on_text(self, connection: _Connection, data: str) -> None:
        try:
            message: Any = json.loads(data)
        except ValueError:
            log.warning("socket mode: the app sent a message that is not JSON")
            return
        if not isinstance(message, dict) or "envelope_id" not in message:
            log.warning("socket mode: the app sent a message without envelope_id")
            return
        envelope_id = str(message["envelope_id"])
        # Any connection may acknowledge; Slack matches acks by envelope id.
        for candidate in [connection, *self._connections]:
            future = candidate.pending.get(envelope_id)
            if future is not None and not future.done():
                payload = message.get("payload")
                future.set_result(payload if isinstance(payload, dict) else None)
                return
        self.stray_acks.append(message)
        log.warning("socket mode: ack for unknown or finished envelope %s", envelope_id)

    # -- deliveries -----------------------------------------------------------------

    async def deliver(
        self,
        type: str,
        payload: JSON,
        *,
        accepts_response_payload: bool,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> Delivery:
        """Send one envelope to a connected app and wait for its acknowledgement."""
        open_connections = [c for c in self._connections if not c.ws.closed]
        if not open_connections:
            raise NoSocketConnection("no Socket Mode connection is open to deliver to")
        connection = open_connections[-1]  # the newest: an app refreshing moves to it
        envelope: JSON = {
            "envelope_id": f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}",
            "type": type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if retry_attempt is not None:
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason or "timeout"
        delivery = Delivery(envelope, connection.id, self._clock())
        self.deliveries.append(delivery)
        future: asyncio.Future[JSON | None] = asyncio.get_running_loop().create_future()
        connection.pending[delivery.envelope_id] = future
        try:
            await connection.ws.send_str(json.dumps(envelope))
            try:
                ack = await asyncio.wait_for(asyncio.shield(future), self.ack_timeout)
            except TimeoutError:
                delivery.failure = "timeout"
                raise AckTimeout(
                    f"the app did not acknowledge the {type} envelope {delivery.envelope_id} "
                    f"within {self.ack_timeout:g}s over Socket Mode (Slack gives up after 3 s): "
                    "does a listener for it exist and call ack()?"
                ) from None
            except ConnectionError:
                delivery.failure = "connection closed"
                raise
        finally:
            connection.pending.pop(delivery.envelope_id, None)
        delivery.acked = True
        delivery.ack_payload = ack
        delivery.acked_at = self._clock()
        return delivery

    async def disconnect(self, reason: str = "refresh_requested") -> int:
        """Send Slack's `disconnect` message on every connection; returns how many."""
        sent = 0
        for connection in list(self._connections):
            if connection.ws.closed:
                continue
            await connection.ws.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-emulator"}}
            )
            sent += 1
        return sent

    async def close(self) -> None:
        """Close every connection (the emulator is stopping)."""
        for connection in list(self._connections):
            await connection.ws.close(code=1001, message=b"emulator stopping")

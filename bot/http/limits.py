"""Bounds on what one connection can make the bot hold, for the internet-facing port.

aiohttp's web server reads headers and bodies for as long as a client cares to send them:
80 connections each sending a megabyte and stalling stayed open indefinitely. Three
bounds, all from the `http:` config section:

* headers (and the idle time between requests): aiohttp's keep-alive timer runs from the
  moment a connection opens and closes it while no complete request has arrived, so
  `keepalive_timeout = header_timeout` is the header-read deadline too;
* bodies: `read_body` (bot/http/bodies.py) reads under `body_timeout` and within a shared
  budget of bytes not yet verified, and a refused body closes its connection without
  aiohttp's lingering read of the rest;
* connections: past `max_connections`, a new connection is answered 503 and closed by
  the site itself, before any request of it is parsed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.http.config import HttpConfig
from bot.metrics import Metrics

# A refused body (413, 408, 503) or a 401 before the body was read: aiohttp would read
# and drop the rest for up to 10s (its default) so the client sees the answer; a second
# is enough for an honest client and gives a stalled one nothing to hold.
LINGERING = 1.0

_BUSY_BODY = b'{"status": "error", "error": "too many connections, try again"}'
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


class BodyBudget:
    """Bytes of bodies held at once before their signature is checked."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held = max(0, self.held - size)


@dataclass
class RequestLimits:
    body_timeout: float
    budget: BodyBudget = field(default_factory=lambda: BodyBudget(32 * 1024 * 1024))

    @classmethod
    def of(cls, http: HttpConfig) -> RequestLimits:
        return cls(http.body_timeout.total_seconds(), BodyBudget(http.max_unverified_body))


LIMITS = web.AppKey("request_limits", RequestLimits)


def handler_args(http: HttpConfig) -> dict[str, Any]:
    """aiohttp's per-connection settings for `web.Application(handler_args=...)`."""
    return {
        "keepalive_timeout": http.header_timeout.total_seconds(),
        "lingering_time": LINGERING,
    }


class _Busy(asyncio.Protocol):
    """A connection past the cap: 503 at once, nothing of it parsed. What the client
    still sends is read and dropped for `LINGERING` seconds at most, so that its kernel
    does not reset the connection before the 503 is read; then it is closed."""

    def __init__(self) -> None:
        self._closing: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(BUSY_RESPONSE)
        if transport.can_write_eof():
            transport.write_eof()
        self._closing = asyncio.get_running_loop().call_later(LINGERING, transport.close)

    def data_received(self, data: bytes) -> None:
        pass  # dropped

    def eof_received(self) -> bool:
        return False  # the client is done too: close now

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closing is not None:
            self._closing.cancel()


class LimitedSite(web.TCPSite):
    """A TCP site that refuses connections past `max_connections` with a 503."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        max_connections: int,
        on_refused: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(runner, host, port)
        self._max_connections = max_connections
        self._on_refused = on_refused
        self.refused = 0

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None

        def connection() -> asyncio.BaseProtocol:
            if len(server.connections) >= self._max_connections:
                self.refused += 1
                if self._on_refused is not None:
                    self._on_refused()
                return _Busy()
            return server()

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            connection,
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


def refusal_counter(metrics: Metrics) -> Callable[[], None]:
    """Counts connections refused past the cap, as `chatops_webhook_rejected{source="http",
    reason="busy"}`."""
    counter = metrics.webhook_rejected.labels("http", "busy")
    return counter.inc


async def listen(
    runner: web.BaseRunner,
    host: str,
    port: int,
    http: HttpConfig,
    *,
    on_refused: Callable[[], None] | None = None,
) -> LimitedSite:
    """Listen on `host:port` under `http`'s connection cap (`chatops serve`, and tests)."""
    site = LimitedSite(
        runner, host, port, max_connections=http.max_connections, on_refused=on_refused
    )
    await site.start()
    return site

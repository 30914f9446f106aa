"""Stalled and trickling connections are closed within the `http:` timeouts, past the
connection cap a new one is answered 503 at once, bodies not yet verified are held within
their budget, and a real request still gets through while all that goes on.

The service listens as `chatops serve` does (bot/http/limits.py `listen`, used by
bot/runner.py and the `start_service` fixture alike)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import aiohttp

from bot.config import Config
from bot.http.config import MIB, HttpConfig
from bot.http.limits import LIMITS
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService
from tests.support.payloads import notification

STALLED_BODIES = 200
TRICKLING = 40
SENT_EACH = 300 * 1024  # of a declared 1 MiB body, then nothing more
TIMEOUT = 1.0
MAX_CONNECTIONS = 260


def limited(config: Config) -> Config:
    http = HttpConfig(
        header_timeout=timedelta(seconds=TIMEOUT),
        body_timeout=timedelta(seconds=TIMEOUT),
        max_connections=MAX_CONNECTIONS,
        max_unverified_body=4 * MIB,
    )
    return config.model_copy(update={"http": http})


def address(bot: RunningService) -> tuple[str, int]:
    host, port = bot.url.removeprefix("http://").split(":")
    return host, int(port)


Stalled = tuple[asyncio.StreamReader, asyncio.StreamWriter, float]


async def stalled_body(bot: RunningService, path: str) -> Stalled:
    """A request declaring 1 MiB of body that sends `SENT_EACH` bytes and stalls."""
    reader, writer = await asyncio.open_connection(*address(bot))
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MIB}\r\n\r\n".encode()
        + b" " * SENT_EACH
    )
    return reader, writer, time.monotonic()


async def trickling_headers(bot: RunningService) -> asyncio.StreamReader:
    """Headers sent a few bytes at a time, never finished, until the bot closes."""
    reader, writer = await asyncio.open_connection(*address(bot))
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for n in range(200):  # bounded: 20s at most
                if reader.at_eof():
                    return
                writer.write(f"X-Slow-{n}: x\r\n".encode())
                await writer.drain()
                await asyncio.sleep(0.1)

    task = asyncio.ensure_future(trickle())
    reader._trickle = task  # type: ignore[attr-defined]  # keep a reference
    return reader


async def until_closed(reader: asyncio.StreamReader) -> tuple[bytes, float]:
    """Everything the bot answered before closing, and when it closed."""
    with contextlib.suppress(ConnectionError):
        data = await reader.read()
        return data, time.monotonic()
    return b"", time.monotonic()


async def test_stalled_and_trickling_connections_are_closed_and_a_real_webhook_gets_through(
    sqlite_url: str, start_service: StartService, example_config: Config
) -> None:
    bot = await start_service(sqlite_url, config=limited(example_config))
    limits = bot.service.web_app[LIMITS]
    paths = ["/slack/events", "/webhooks/pagerduty"]
    stalled = [await stalled_body(bot, paths[n % 2]) for n in range(STALLED_BODIES)]
    trickled = [await trickling_headers(bot) for _ in range(TRICKLING)]
    opened_at = time.monotonic()

    # While they stall, Alertmanager's webhook is answered.
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{bot.url}/webhooks/alertmanager",
            json=notification(),
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        ) as response,
    ):
        assert response.status == 200
    assert limits.budget.held <= 4 * MIB, "unverified bodies stay within their budget"

    answers = await asyncio.wait_for(
        asyncio.gather(*(until_closed(r) for r, _, _ in stalled)), timeout=15
    )
    statuses = [data.split(b" ", 2)[1] if data else b"" for data, _ in answers]
    # Within the 4 MiB budget a dozen bodies are read until the body timeout (408); the
    # rest are refused at once (503) instead of being held.
    # A refused client still sending can see its connection reset before it reads the
    # 503 (b""): closed all the same.
    assert statuses.count(b"408") >= 5, statuses
    assert statuses.count(b"503") + statuses.count(b"") >= STALLED_BODIES - 20, statuses
    assert set(statuses) <= {b"408", b"503", b""}, set(statuses)
    slowest = max(
        closed - started for (_, closed), (_, _, started) in zip(answers, stalled, strict=True)
    )
    assert slowest < TIMEOUT + 5, f"a stalled body was held {slowest:.1f}s"

    trickled_answers = await asyncio.wait_for(
        asyncio.gather(*(until_closed(r) for r in trickled)), timeout=15
    )
    held = max(closed for _, closed in trickled_answers) - opened_at
    assert held < TIMEOUT + 5, f"trickled headers were held {held:.1f}s"


async def test_past_the_connection_cap_a_new_connection_is_answered_503_at_once(
    sqlite_url: str, start_service: StartService, example_config: Config
) -> None:
    config = limited(example_config)
    config = config.model_copy(
        update={"http": config.http.model_copy(update={"max_connections": 8})}
    )
    bot = await start_service(sqlite_url, config=config)
    idle = [await asyncio.open_connection(*address(bot)) for _ in range(8)]
    # Each of these is accepted by the kernel, then answered at once by the bot.
    started = time.monotonic()
    extra = [await asyncio.open_connection(*address(bot)) for _ in range(4)]
    assert len(idle) == 8  # held open (a dropped writer would close its connection)
    answers = await asyncio.wait_for(
        asyncio.gather(*(until_closed(reader) for reader, _ in extra)), timeout=5
    )
    for data, closed in answers:
        assert data.startswith(b"HTTP/1.1 503 "), data
        assert closed - started < TIMEOUT, "answered before any timeout"
    # The idle ones are closed by the header timeout, and then the bot serves again.
    await asyncio.wait_for(asyncio.gather(*(until_closed(r) for r, _ in idle)), timeout=10)
    async with aiohttp.ClientSession() as http, http.get(f"{bot.url}/healthz") as response:
        assert response.status == 200


async def test_alertmanager_without_its_token_is_refused_on_its_headers_and_closed(
    sqlite_url: str, start_service: StartService, example_config: Config
) -> None:
    """The token is in the headers: a request without it is answered before any of its
    body is read, and its connection closed within a second, not read on for ten."""
    bot = await start_service(sqlite_url, config=limited(example_config))
    reader, writer = await asyncio.open_connection(*address(bot))
    started = time.monotonic()
    writer.write(
        b"POST /webhooks/alertmanager HTTP/1.1\r\nHost: bot\r\n"
        b"Content-Type: application/json\r\nContent-Length: 33554432\r\n\r\n" + b" " * 4096
    )
    data, closed = await asyncio.wait_for(until_closed(reader), timeout=10)
    assert data.startswith(b"HTTP/1.1 401 "), data
    assert closed - started < 2.5, f"held {closed - started:.1f}s after the 401"
    writer.close()

"""Fixtures for the Slack emulator's own tests.

`emulator` is a started emulator seeded with the example workspace, `client` is
slack_sdk's real AsyncWebClient pointed at it (so the tests also prove the emulator
speaks what slack_sdk sends), and `bot` is a tiny aiohttp app on 127.0.0.1 standing in
for the bot's `/slack/events`, recording every request it receives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.emulator import SlackEmulator, default_workspace


class FakeTime:
    """A settable clock for the emulator's `clock=` (seconds, like time.monotonic)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    content_type: str


@dataclass
class FakeBot:
    """Records deliveries; answers with `reply` (JSON) and `status`."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    reply: dict[str, Any] | None = None
    status: int = 200


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def emulator(fake_time: FakeTime) -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(clock=fake_time)
    default_workspace(emu)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
def client(emulator: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emulator.token, base_url=emulator.base_url)


@pytest.fixture
async def bot(emulator: SlackEmulator) -> AsyncIterator[FakeBot]:
    fake = FakeBot()

    async def events(request: web.Request) -> web.Response:
        fake.received.append(
            Received(dict(request.headers), await request.read(), request.content_type)
        )
        if fake.reply is None:
            return web.Response(status=fake.status)
        return web.json_response(fake.reply, status=fake.status)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    emulator.bot_url = fake.url
    try:
        yield fake
    finally:
        await runner.cleanup()

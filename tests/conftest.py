"""Shared fixtures: fresh databases (SQLite and the real PostgreSQL), the Slack emulator,
and a bot service wired exactly as `chatops serve` wires it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.clock import FakeClock
from bot.config import BUNDLED_EXAMPLE, Config, load_config
from bot.http.access_log import app_runner
from bot.http.limits import listen
from bot.sandbox.emulator import SlackEmulator, default_workspace
from bot.service import Service
from bot.settings import Settings
from tests.support.databases import fresh_database

WEBHOOK_TOKEN = "test-webhook-token"
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


@pytest.fixture(params=["sqlite", "postgres"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(db_kind, tmp_path) as url:
        yield url


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def example_config() -> Config:
    return load_config(BUNDLED_EXAMPLE)


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(token=BOT_TOKEN, signing_secret=SIGNING_SECRET)
    default_workspace(emu)
    await emu.start()
    yield emu
    await emu.stop()


def make_settings(database_url: str, emulator: SlackEmulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_url": emulator.base_url,
        "alertmanager_webhook_token": SecretStr(WEBHOOK_TOKEN),
    }
    values.update(overrides)
    return Settings.model_construct(**values)


class RunningService:
    """A started service on a loopback port, plus what tests need to drive it."""

    def __init__(self, service: Service, runner: web.AppRunner, url: str) -> None:
        self.service = service
        self.runner = runner
        self.url = url
        self._stopped = False

    @property
    def clock(self) -> FakeClock:
        assert isinstance(self.service.clock, FakeClock)
        return self.service.clock

    async def deliver(self, notification: dict[str, Any]) -> None:
        """POST a notification to the Alertmanager webhook, as Alertmanager would; 200 or fail."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.url}/webhooks/alertmanager",
                json=notification,
                headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
            ) as response,
        ):
            assert response.status == 200, await response.text()

    async def settle(self) -> None:
        """Process stored deliveries and send every due Slack call (workers off)."""
        await bolt_listeners_done()
        await self.service.processor.process_pending()
        await self.service.outbox.drain(paced=False)  # the test clock stands still

    async def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            await self.runner.cleanup()


async def bolt_listeners_done() -> None:
    """Bolt answers Slack before its listener has finished (as Slack's 3-second rule wants);
    tests that look at the outcome of a click first wait for those listeners."""
    for _ in range(100):
        pending = [
            task
            for task in asyncio.all_tasks()
            if "run_ack_function_asynchronously" in repr(task.get_coro())
        ]
        if not pending:
            return
        await asyncio.wait(pending, timeout=5)


StartService = Callable[..., Awaitable[RunningService]]


@pytest.fixture
async def start_service(
    emulator: SlackEmulator, example_config: Config
) -> AsyncIterator[StartService]:
    running: list[RunningService] = []

    async def start(
        database_url: str,
        *,
        config: Config | None = None,
        clock: FakeClock | None = None,
        run_workers: bool = False,
        **overrides: Any,
    ) -> RunningService:
        settings = make_settings(database_url, emulator, **overrides)
        service = Service(
            settings, config or example_config, clock=clock or FakeClock(), run_workers=run_workers
        )
        await service.migrate()
        runner = app_runner(service.web_app)
        await runner.setup()
        # Listening as `chatops serve` does (bot/runner.py), under the `http:` limits.
        site = await listen(runner, "127.0.0.1", 0, service.config.http)
        port = site.port
        url = f"http://127.0.0.1:{port}"
        emulator.bot_url = f"{url}/slack/events"
        result = RunningService(service, runner, url)
        running.append(result)
        return result

    yield start
    for item in running:
        await item.stop()


KNOWN_SECRETS = (WEBHOOK_TOKEN, SIGNING_SECRET, BOT_TOKEN)


@pytest.fixture(autouse=True)
def no_secret_in_logs_or_slack(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Every flow of the suite runs with known secret values; none may leak into a log line
    (at DEBUG, where libraries are chattiest) or into anything posted to Slack."""
    caplog.set_level(logging.DEBUG)
    yield
    # Teardown has its own capture; the test's own lines are in the setup and call records.
    logged = "\n".join(
        record.getMessage() + (record.exc_text or "")
        for phase in ("setup", "call")
        for record in caplog.get_records(phase)  # type: ignore[arg-type]
    )
    leaked = [s for s in KNOWN_SECRETS if s in logged]
    assert not leaked, f"secret value(s) found in the logs: {len(leaked)}"
    emu = request.node.funcargs.get("emulator")
    if isinstance(emu, SlackEmulator):
        posted = json.dumps([c.args for c in emu.calls() if c.method != "auth.test"], default=str)
        assert not [s for s in KNOWN_SECRETS if s in posted], "a secret was sent to Slack"

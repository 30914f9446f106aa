"""Running the service until SIGTERM, and sandbox mode's in-process Slack emulator."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from bot.config import Config
from bot.service import Service, StartupError
from bot.settings import Settings

log = logging.getLogger(__name__)

# Not a secret: the sandbox only listens on loopback and talks to its own emulator.
SANDBOX_WEBHOOK_TOKEN = "sandbox-token"  # noqa: S105


async def serve(
    settings: Settings,
    config: Config,
    *,
    host: str,
    port: int,
    run_migrations: bool = True,
    sandbox_port: int = 3001,
) -> int:
    emulator: Any = None
    if settings.sandbox:
        emulator, settings = await start_sandbox(settings, host, port, sandbox_port)
    try:
        service = Service(settings, config)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if run_migrations:
        await service.migrate()
    runner = web.AppRunner(service.web_app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("listening on http://%s:%s", host, port)
    if emulator is not None:
        _print_sandbox_banner(host, port, sandbox_port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: finishing accepted work")
    await runner.cleanup()
    if emulator is not None:
        await emulator.stop()
    return 0


async def start_sandbox(
    settings: Settings, host: str, port: int, sandbox_port: int
) -> tuple[Any, Settings]:
    from bot.sandbox.emulator import SlackEmulator, default_workspace
    from bot.sandbox.render import render_text

    emulator = SlackEmulator()
    default_workspace(emulator)

    def show(kind: str, message: Any) -> None:
        print(f"\n--- Slack {kind} ---\n{render_text(message)}", flush=True)

    # Benchmarks turn printing off: a terminal write per message is not what they measure.
    if os.environ.get("CHATOPS_SANDBOX_PRINT", "1") != "0":
        emulator.on_event = show
    await emulator.start(host=host, port=sandbox_port)
    emulator.bot_url = f"http://{host}:{port}/slack/events"
    updated = settings.model_copy(
        update={
            "slack_bot_token": SecretStr(emulator.token),
            "slack_signing_secret": SecretStr(emulator.signing_secret),
            "slack_api_url": emulator.base_url,
            "alertmanager_webhook_token": settings.alertmanager_webhook_token
            or SecretStr(SANDBOX_WEBHOOK_TOKEN),
        }
    )
    return emulator, updated


def _print_sandbox_banner(host: str, port: int, sandbox_port: int) -> None:
    print(
        f"""
Sandbox mode: no SLACK_BOT_TOKEN, so the bot talks to a Slack emulator on
http://{host}:{sandbox_port}/ and prints every message here.
From a second terminal:
  chatops sandbox alert examples/alerts/high-latency-firing.json
  chatops sandbox alert examples/alerts/high-latency-resolved.json
  chatops sandbox messages
Alertmanager webhook: http://{host}:{port}/webhooks/alertmanager (token {SANDBOX_WEBHOOK_TOKEN})
""",
        flush=True,
    )

"""Running the service until SIGTERM, and sandbox mode's in-process Slack emulator.

With SLACK_APP_TOKEN set the bot connects to Slack by Socket Mode (`bot.socket_mode`)
once the service has started, and /slack/events is not served; webhooks, health and
metrics stay on the HTTP port. In sandbox mode the emulator then accepts that token and
plays the socket side.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Any

from aiohttp import web
from pydantic import SecretStr

from actions.aws.secrets import SecretsError
from bot.access_log import app_runner
from bot.config import Config
from bot.service import Service, StartupError
from bot.settings import Settings, with_secrets
from bot.socket_mode import SocketMode, SocketModeError, serve_http_events_off

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
    stop: asyncio.Event | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or until `stop` is set, for tests); the exit status."""
    emulator: Any = None
    try:
        settings = await with_secrets(settings)
    except SecretsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.sandbox:
        emulator, settings = await start_sandbox(settings, host, port, sandbox_port)
    try:
        service = Service(settings, config)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if run_migrations:
        await service.migrate()
    socket_mode = SocketMode.for_service(service)
    if socket_mode is not None:
        serve_http_events_off(service.web_app)
    runner = app_runner(service.web_app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("listening on http://%s:%s", host, port)
    if socket_mode is not None:
        try:
            await socket_mode.start()
        except SocketModeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            await runner.cleanup()
            if emulator is not None:
                await emulator.stop()
            return 2
    if emulator is not None:
        _print_sandbox_banner(host, port, sandbox_port, socket_mode=socket_mode is not None)

    own_signals = stop is None
    stopping = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    if own_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
    if emulator is None:
        loop.add_signal_handler(signal.SIGHUP, lambda: _reload_later(service))
    await stopping.wait()
    log.info("shutting down: finishing accepted work")
    # No new Slack requests while the accepted work is finished.
    if socket_mode is not None:
        await socket_mode.stop()
    await runner.cleanup()
    if emulator is not None:
        await emulator.stop()
    return 0


_reloads: set[asyncio.Task[None]] = set()


def _reload_later(service: Service) -> None:
    task = asyncio.create_task(reload_secrets(service))
    _reloads.add(task)  # keep a reference until it is done
    task.add_done_callback(_reloads.discard)


async def reload_secrets(service: Service) -> None:
    """SIGHUP: read the environment and CHATOPS_AWS_SECRET_ID again and apply rotated
    secrets. A failed read keeps the secrets in use (and says why, never what)."""
    try:
        fresh = await with_secrets(Settings())
    except SecretsError as exc:
        log.error("SIGHUP: secrets not reloaded: %s", exc)
        return
    service.apply_settings(fresh)
    log.info("SIGHUP: secrets reloaded")


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
    if settings.slack_app_token is not None and settings.slack_app_token.get_secret_value():
        # Socket Mode in the sandbox: the emulator accepts the given app-level token.
        emulator.app_token = settings.slack_app_token.get_secret_value()
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


def _print_sandbox_banner(
    host: str, port: int, sandbox_port: int, *, socket_mode: bool = False
) -> None:
    if socket_mode:
        print("Socket Mode: the bot is connected to the emulator by WebSocket.", flush=True)
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

"""Running the service until SIGTERM, and sandbox mode's in-process Slack emulator.

With SLACK_APP_TOKEN set the bot connects to Slack by Socket Mode (`bot.slack.socket_mode`)
once the service has started, and /slack/events is not served; webhooks, health and
metrics stay on the HTTP port. Sandbox mode (`--sandbox`, `bot.sandbox_mode`) starts only
when asked for and never with real credentials; outside it the Slack credentials must be
there and well-formed (`bot.startup`), or nothing listens.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import sys
from typing import Any

from aiohttp import web

from actions.aws.secrets import SecretsError
from bot.config import Config
from bot.http.access_log import app_runner
from bot.http.limits import listen, refusal_counter
from bot.http.routes import MODE_KEY
from bot.sandbox_mode import (
    SANDBOX_WEBHOOK_TOKEN,
    bind_problem,
    exposure_warning,
    print_sandbox_banner,
    start_sandbox,
    with_sandbox_watchdog,
)
from bot.service import Service
from bot.settings import Settings, with_secrets
from bot.slack.socket_mode import SocketMode, SocketModeError, serve_http_events_off
from bot.startup import StartupError, production_problem, sandbox_problem

__all__ = ["SANDBOX_WEBHOOK_TOKEN", "reload_secrets", "serve"]

log = logging.getLogger(__name__)


async def serve(
    settings: Settings,
    config: Config,
    *,
    host: str,
    port: int,
    run_migrations: bool = True,
    sandbox: bool = False,
    sandbox_host: str | None = None,
    sandbox_port: int = 3001,
    sandbox_socket_mode: bool = False,
    stop: asyncio.Event | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or until `stop` is set, for tests); the exit status."""
    emulator: Any = None
    if sandbox:
        problem = sandbox_problem(settings) or bind_problem(host, sandbox_host)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        warning = exposure_warning(sandbox_host)
        if warning is not None:
            print(warning, file=sys.stderr, flush=True)
        bind = sandbox_host or "127.0.0.1"
        try:
            emulator, settings = await start_sandbox(
                settings,
                config,
                host,
                port,
                sandbox_port,
                sandbox_host=bind,
                socket_mode=sandbox_socket_mode,
            )
        except OSError as exc:
            print(f"error: {_port_problem(bind, sandbox_port, exc)}", file=sys.stderr)
            return 2
        config = with_sandbox_watchdog(config, emulator.page.watchdog.every)
    else:
        try:
            settings = await with_secrets(settings)
        except SecretsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        problem = production_problem(settings)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    try:
        return await _run(settings, config, host, port, run_migrations, emulator, stop)
    finally:
        if emulator is not None:
            emulator.guard.remove_token_file()


async def _run(
    settings: Settings,
    config: Config,
    host: str,
    port: int,
    run_migrations: bool,
    emulator: Any,
    stop: asyncio.Event | None,
) -> int:
    try:
        service = Service(settings, config)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if emulator is not None:
            await emulator.stop()
        return 2
    service.web_app[MODE_KEY] = "production" if emulator is None else "sandbox"
    if run_migrations:
        await service.migrate()
    started = await _start(service, host, port)
    if started is None:
        if emulator is not None:
            await emulator.stop()
        return 2
    runner, socket_mode = started
    if emulator is not None:
        emulator.page.watchdog.start()
        print_sandbox_banner(emulator, host, port, socket_mode=socket_mode is not None)
    await _until_stopped(service, stop, reload_on_sighup=emulator is None)
    log.info("shutting down: finishing accepted work")
    # No new Slack requests while the accepted work is finished.
    if socket_mode is not None:
        await socket_mode.stop()
    await runner.cleanup()
    if emulator is not None:
        await emulator.stop()
    return 0


async def _start(
    service: Service, host: str, port: int
) -> tuple[web.AppRunner, SocketMode | None] | None:
    """Listen on the port, then connect by Socket Mode when it is set; None after saying
    why that failed."""
    socket_mode = SocketMode.for_service(service)
    if socket_mode is not None:
        serve_http_events_off(service.web_app)
    runner = app_runner(service.web_app)
    await runner.setup()
    try:
        await listen(
            runner, host, port, service.config.http, on_refused=refusal_counter(service.metrics)
        )
    except OSError as exc:
        print(f"error: {_port_problem(host, port, exc)}", file=sys.stderr)
        await runner.cleanup()
        return None
    log.info("listening on http://%s:%s", host, port)
    if socket_mode is not None:
        try:
            await socket_mode.start()
        except SocketModeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            await runner.cleanup()
            return None
    return runner, socket_mode


async def _until_stopped(
    service: Service, stop: asyncio.Event | None, *, reload_on_sighup: bool
) -> None:
    """SIGTERM/SIGINT stop (or `stop`, for tests); SIGHUP reloads the secrets."""
    stopping = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    if stop is None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
    if reload_on_sighup:
        loop.add_signal_handler(signal.SIGHUP, lambda: _reload_later(service))
    await stopping.wait()


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
    problem = production_problem(fresh)
    if problem is not None:
        log.error("SIGHUP: secrets not reloaded: %s", problem)
        return
    service.apply_settings(fresh)
    log.info("SIGHUP: secrets reloaded")


def _port_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another `chatops serve` or sandbox?); "
            "stop it or pick other ports with --port / --sandbox-port"
        )
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"

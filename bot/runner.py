"""Running the service until SIGTERM, and sandbox mode's in-process Slack emulator.

With SLACK_APP_TOKEN set the bot connects to Slack by Socket Mode (`bot.slack.socket_mode`)
once the service has started, and /slack/events is not served; webhooks, health and
metrics stay on the HTTP port. In sandbox mode the emulator then accepts that token and
plays the socket side.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from pydantic import SecretStr

from actions.aws.secrets import SecretsError
from bot.config import Config
from bot.http.access_log import app_runner
from bot.service import Service, StartupError
from bot.settings import Settings, with_secrets
from bot.slack.socket_mode import SocketMode, SocketModeError, serve_http_events_off

log = logging.getLogger(__name__)

# Not a secret: the sandbox only listens on loopback and talks to its own emulator.
SANDBOX_WEBHOOK_TOKEN = "sandbox-token"  # noqa: S105
# The sandbox's PagerDuty stand-in: a routing key of the documented length, and the secret
# its webhooks are signed with. Both fixed fakes, like the token above.
SANDBOX_ROUTING_KEY = "sandbox0routing0key0000000000000"
SANDBOX_PAGERDUTY_SECRET = "sandbox-pagerduty-secret"  # noqa: S105
SANDBOX_PAGERDUTY_API_TOKEN = "sandbox-pagerduty-api-token"  # noqa: S105


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
        try:
            emulator, settings = await start_sandbox(settings, config, host, port, sandbox_port)
        except OSError as exc:
            print(f"error: {_port_problem(host, sandbox_port, exc)}", file=sys.stderr)
            return 2
    if emulator is not None:
        config = with_sandbox_watchdog(config, emulator.page.watchdog.every)
    try:
        service = Service(settings, config)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
        _print_sandbox_banner(host, port, sandbox_port, socket_mode=socket_mode is not None)
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
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
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
    service.apply_settings(fresh)
    log.info("SIGHUP: secrets reloaded")


MANIFEST = Path(__file__).resolve().parent.parent / "examples" / "slack-app-manifest.yaml"


def manifest_commands(path: Path) -> set[str] | None:
    """The slash commands the Slack app manifest registers; None without a manifest."""
    if not path.exists():
        return None
    manifest = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    listed = (manifest.get("features") or {}).get("slash_commands") or []
    return {str(c["command"]) for c in listed if isinstance(c, dict) and c.get("command")}


def _port_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another `chatops serve` or sandbox?); "
            "stop it or pick other ports with --port / --sandbox-port"
        )
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


async def start_sandbox(
    settings: Settings, config: Config, host: str, port: int, sandbox_port: int
) -> tuple[Any, Settings]:
    from bot.sandbox.emulator import SlackEmulator, default_workspace
    from bot.sandbox.pagerduty_oncall import seed_sandbox
    from bot.sandbox.render import render_text
    from bot.sandbox.roles import sandbox_roles

    emulator = SlackEmulator()
    default_workspace(emulator)
    # Tests make the Watchdog fast; a newcomer watches it at Alertmanager-like pace.
    emulator.page.watchdog.every = float(os.environ.get("CHATOPS_SANDBOX_WATCHDOG_SECONDS", 15))
    emulator.slash_commands = manifest_commands(MANIFEST)
    groups = {g.id: g.users for g in emulator.store.usergroups.values()}
    emulator.page.roles = sandbox_roles(config, emulator.store.users, groups)

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
    webhook_token = settings.alertmanager_webhook_token or SecretStr(SANDBOX_WEBHOOK_TOKEN)
    emulator.page.alertmanager_url = f"http://{host}:{port}/webhooks/alertmanager"
    emulator.page.alertmanager_token = webhook_token.get_secret_value()
    update: dict[str, Any] = {
        "slack_bot_token": SecretStr(emulator.token),
        "slack_signing_secret": SecretStr(emulator.signing_secret),
        "slack_api_url": emulator.base_url,
        "alertmanager_webhook_token": webhook_token,
    }
    if settings.pagerduty_routing_key is None:
        # Pages go to the sandbox's own PagerDuty, which sends its webhooks back here, and
        # the incident buttons update incidents there through its REST API.
        update |= {
            "pagerduty_routing_key": SecretStr(SANDBOX_ROUTING_KEY),
            "pagerduty_events_url": f"{emulator.url}pagerduty",
            "pagerduty_webhook_secret": SecretStr(SANDBOX_PAGERDUTY_SECRET),
            "pagerduty_api_url": f"{emulator.url}pagerduty/api",
            "pagerduty_api_token": SecretStr(SANDBOX_PAGERDUTY_API_TOKEN),
        }
        emulator.pagerduty.webhook_url = f"http://{host}:{port}/webhooks/pagerduty"
        emulator.pagerduty.webhook_secret = SANDBOX_PAGERDUTY_SECRET
        emulator.pagerduty.api_token = SANDBOX_PAGERDUTY_API_TOKEN
        seed_sandbox(
            emulator.pagerduty.oncall,
            [(u.id, u.real_name, u.email) for u in emulator.store.users.values() if not u.is_bot],
            datetime.now(UTC),
        )
    return emulator, settings.model_copy(update=update)


def with_sandbox_watchdog(config: Config, every: float) -> Config:
    """The sandbox's own heartbeat on its Watchdog (bot/sandbox/watchdog.py), unless the
    config names one: late `2 * every` (30 s) after the Alertmanager panel stops it."""
    from oncall.config import HeartbeatConfig

    if any(h.name == "watchdog" for h in config.heartbeats):
        return config
    watchdog = HeartbeatConfig.model_validate(
        {
            "name": "watchdog",
            "every": every,
            "grace": every,
            "match": {"alertname": "Watchdog"},
            "channel": config.alerts.routes[-1].channel,
        }
    )
    return config.model_copy(update={"heartbeats": [*config.heartbeats, watchdog]})


def chatops_command() -> str:
    """How to type `chatops` in a second terminal: bare when it is on PATH, else the
    virtualenv's script (activation is not something a newcomer has done)."""
    found = shutil.which("chatops")
    beside = Path(sys.executable).parent / "chatops"
    if found is not None and Path(found).resolve() == beside.resolve():
        return "chatops"
    if beside.exists():
        try:
            return str(beside.relative_to(Path.cwd()))
        except ValueError:
            return str(beside)
    return "chatops" if found is not None else f"{sys.executable} -m bot"


def _print_sandbox_banner(
    host: str, port: int, sandbox_port: int, *, socket_mode: bool = False
) -> None:
    if socket_mode:
        print("Socket Mode: the bot is connected to the emulator by WebSocket.", flush=True)
    cli = chatops_command()
    print(
        f"""
Open http://{host}:{sandbox_port}/ in a browser: Slack, Alertmanager and PagerDuty.

Sandbox mode: no SLACK_BOT_TOKEN, so the bot talks to a Slack emulator on
http://{host}:{sandbox_port}/ and prints every message here.
From a second terminal:
  {cli} sandbox users
  {cli} sandbox alert api-down-p0
  {cli} sandbox messages --channel C0000INCID
  {cli} sandbox click C0000INCID latest Acknowledge --as U0000ONC01
Alertmanager webhook: http://{host}:{port}/webhooks/alertmanager (token {SANDBOX_WEBHOOK_TOKEN})
""",
        flush=True,
    )

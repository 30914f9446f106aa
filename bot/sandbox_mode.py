"""`chatops serve --sandbox`: the bot against the in-process Slack emulator and PagerDuty.

Every secret the bot and the emulators share is random per start (the bot token, the
signing secret, PagerDuty's routing key, API token and webhook secret, the Socket Mode app
token), so nothing another local process or a web page could guess opens the workspace;
the emulator binds 127.0.0.1 unless `--sandbox-host` says otherwise (with a warning) and
checks Host, Origin and the control token on its port (`bot.sandbox.guard`). Only the
Alertmanager webhook keeps its fixed, documented token (`sandbox-token`), on the bot's
loopback port, so that the README's curl lines work as written.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from bot.config import Config
from bot.settings import Settings

SANDBOX_WEBHOOK_TOKEN = "sandbox-token"  # noqa: S105 - documented, loopback only
MANIFEST = Path(__file__).resolve().parent.parent / "examples" / "slack-app-manifest.yaml"


def manifest_commands(path: Path) -> set[str] | None:
    """The slash commands the Slack app manifest registers; None without a manifest."""
    if not path.exists():
        return None
    manifest = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    listed = (manifest.get("features") or {}).get("slash_commands") or []
    return {str(c["command"]) for c in listed if isinstance(c, dict) and c.get("command")}


def bind_problem(host: str, sandbox_host: str | None) -> str | None:
    """Why the sandbox must not listen where asked; None when it may."""
    from bot.sandbox.guard import is_loopback

    if sandbox_host is None and not is_loopback(host):
        return (
            f"the sandbox listens on 127.0.0.1 only; --host {host} would expose its bot, "
            f"so pass --sandbox-host {host} too if that is really meant"
        )
    return None


def exposure_warning(sandbox_host: str | None) -> str | None:
    from bot.sandbox.guard import is_loopback

    if sandbox_host is None or is_loopback(sandbox_host):
        return None
    return (
        f"warning: the sandbox listens on {sandbox_host}, not only on this machine: anyone "
        "who can reach it and has the token can act as every sandbox user"
    )


async def start_sandbox(
    settings: Settings,
    config: Config,
    host: str,
    port: int,
    sandbox_port: int,
    *,
    sandbox_host: str = "127.0.0.1",
    socket_mode: bool = False,
) -> tuple[Any, Settings]:
    from bot.sandbox.emulator import SlackEmulator, default_workspace
    from bot.sandbox.guard import SandboxGuard
    from bot.sandbox.render import render_text
    from bot.sandbox.roles import sandbox_roles
    from bot.terminal import say

    emulator = SlackEmulator(
        token=f"xoxb-sandbox-{secrets.token_hex(16)}", signing_secret=secrets.token_hex(32)
    )
    default_workspace(emulator)
    # Tests make the Watchdog fast; a newcomer watches it at Alertmanager-like pace.
    emulator.page.watchdog.every = float(os.environ.get("CHATOPS_SANDBOX_WATCHDOG_SECONDS", 15))
    emulator.slash_commands = manifest_commands(MANIFEST)
    groups = {g.id: g.users for g in emulator.store.usergroups.values()}
    emulator.page.roles = sandbox_roles(config, emulator.store.users, groups)

    def show(kind: str, message: Any) -> None:
        say(f"\n--- Slack {kind} ---\n{render_text(message)}", flush=True)  # alert text

    # Benchmarks turn printing off: a terminal write per message is not what they measure.
    if os.environ.get("CHATOPS_SANDBOX_PRINT", "1") != "0":
        emulator.on_event = show
    app_token = f"xapp-1-A0SANDBOX-{secrets.token_hex(16)}" if socket_mode else None
    emulator.app_token = app_token
    emulator.guard = SandboxGuard(sandbox_host, sandbox_port)
    await emulator.start(host=sandbox_host, port=sandbox_port)
    emulator.guard.write_token_file()
    emulator.bot_url = f"http://{host}:{port}/slack/events"
    webhook_token = settings.alertmanager_webhook_token or SecretStr(SANDBOX_WEBHOOK_TOKEN)
    emulator.page.alertmanager_url = f"http://{host}:{port}/webhooks/alertmanager"
    emulator.page.alertmanager_token = webhook_token.get_secret_value()
    update: dict[str, Any] = {
        "slack_bot_token": SecretStr(emulator.token),
        "slack_signing_secret": SecretStr(emulator.signing_secret),
        "slack_app_token": None if app_token is None else SecretStr(app_token),
        "slack_api_url": emulator.base_url,
        "alertmanager_webhook_token": webhook_token,
        **_sandbox_pagerduty(emulator, host, port),
    }
    return emulator, settings.model_copy(update=update)


def _sandbox_pagerduty(emulator: Any, host: str, port: int) -> dict[str, Any]:
    """Pages go to the sandbox's own PagerDuty, which sends its webhooks back here, and the
    incident buttons update incidents there through its REST API; it knows a rota, so
    /oncall and a handoff a few minutes after start have someone to show."""
    from bot.sandbox.pagerduty_oncall import seed_sandbox

    pagerduty_secret, pagerduty_api_token = secrets.token_hex(16), secrets.token_hex(16)
    routing_key = secrets.token_hex(16)  # 32 characters, as PagerDuty's
    emulator.pagerduty.webhook_url = f"http://{host}:{port}/webhooks/pagerduty"
    emulator.pagerduty.webhook_secret = pagerduty_secret
    emulator.pagerduty.api_token = pagerduty_api_token
    emulator.pagerduty.routing_key = routing_key
    seed_sandbox(
        emulator.pagerduty.oncall,
        [(u.id, u.real_name, u.email) for u in emulator.store.users.values() if not u.is_bot],
        datetime.now(UTC),
    )
    return {
        "pagerduty_routing_key": SecretStr(routing_key),
        "pagerduty_events_url": f"{emulator.url}pagerduty",
        "pagerduty_webhook_secret": SecretStr(pagerduty_secret),
        "pagerduty_api_url": f"{emulator.url}pagerduty/api",
        "pagerduty_api_token": SecretStr(pagerduty_api_token),
    }


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


def print_sandbox_banner(emulator: Any, host: str, port: int, *, socket_mode: bool) -> None:
    if socket_mode:
        print("Socket Mode: the bot is connected to the emulator by WebSocket.", flush=True)
    cli = chatops_command()
    guard = emulator.guard
    print(
        f"""
Open {guard.page_url} in a browser: Slack, Alertmanager and PagerDuty.

Sandbox mode (--sandbox): the bot talks to a Slack emulator on {emulator.url}
and prints every message here. The address above carries this run's token; the page
keeps it in a cookie. `chatops sandbox ...` reads it from {guard.token_path}.
From a second terminal:
  {cli} sandbox users
  {cli} sandbox alert api-down-p0
  {cli} sandbox messages --channel C0000INCID
  {cli} sandbox click C0000INCID latest Acknowledge --as U0000ONC01
Alertmanager webhook: http://{host}:{port}/webhooks/alertmanager (token {SANDBOX_WEBHOOK_TOKEN})
""",
        flush=True,
    )

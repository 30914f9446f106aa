"""`chatops sandbox ...`: drive a running sandbox from a second terminal.

Alerts go to the bot's webhook as Alertmanager would send them; slash commands,
reactions and button clicks go through the emulator, which signs them as Slack does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp

from bot.runner import SANDBOX_WEBHOOK_TOKEN

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "alerts"


def add_sandbox_commands(sub: Any) -> None:
    sandbox = sub.add_parser("sandbox", help="send a running sandbox alerts, commands, reactions")
    sandbox.add_argument("--bot", default="http://127.0.0.1:3000", help="the bot's URL")
    sandbox.add_argument("--emulator", default="http://127.0.0.1:3001", help="the emulator's URL")
    actions = sandbox.add_subparsers(dest="sandbox_command", required=True)

    alert = actions.add_parser(
        "alert", help="post an Alertmanager notification (file or example name)"
    )
    alert.add_argument("file")
    alert.add_argument("--token", default=SANDBOX_WEBHOOK_TOKEN)
    alert.set_defaults(func=_alert)

    command = actions.add_parser("command", help='run a slash command, e.g. "/deploy api v1.4.0"')
    command.add_argument("text")
    command.add_argument("--as", dest="user", default="U0000DEP01")
    command.add_argument("--channel", default="C0000DEPLY")
    command.set_defaults(func=_command)

    react = actions.add_parser("react", help="add (or --remove) a reaction to a message")
    react.add_argument("channel")
    react.add_argument("ts")
    react.add_argument("reaction")
    react.add_argument("--as", dest="user", default="U0000APR01")
    react.add_argument("--remove", action="store_true")
    react.set_defaults(func=_react)

    click = actions.add_parser("click", help="click a button (action id) on a message")
    click.add_argument("channel")
    click.add_argument("ts")
    click.add_argument("action_id")
    click.add_argument("value")
    click.add_argument("--as", dest="user", default="U0000ONC01")
    click.set_defaults(func=_click)

    messages = actions.add_parser("messages", help="list what the bot posted")
    messages.add_argument("--channel")
    messages.set_defaults(func=_messages)


def _run(coro: Any) -> int:
    try:
        return int(asyncio.run(coro))
    except aiohttp.ClientConnectionError as exc:
        print(f"error: is `chatops serve` running in sandbox mode? ({exc})", file=sys.stderr)
        return 1


async def _post(url: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=payload, headers=headers or {}) as response,
    ):
        print(f"{response.status} {await response.text()}")
        return 0 if response.status < 300 else 1


def _alert(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.exists():
        path = EXAMPLES / (args.file if args.file.endswith(".json") else f"{args.file}.json")
    if not path.exists():
        names = ", ".join(p.stem for p in sorted(EXAMPLES.glob("*.json")))
        print(f"error: no file {args.file}; examples: {names}", file=sys.stderr)
        return 2
    payload = json.loads(path.read_text())
    url = f"{args.bot}/webhooks/alertmanager"
    return _run(_post(url, payload, {"Authorization": f"Bearer {args.token}"}))


def _command(args: argparse.Namespace) -> int:
    command, _, text = args.text.strip().partition(" ")
    payload = {"command": command, "text": text, "user": args.user, "channel": args.channel}
    return _run(_post(f"{args.emulator}/_emulator/command", payload))


def _react(args: argparse.Namespace) -> int:
    payload = {
        "user": args.user,
        "reaction": args.reaction,
        "channel": args.channel,
        "ts": args.ts,
        "removed": args.remove,
    }
    return _run(_post(f"{args.emulator}/_emulator/reaction", payload))


def _click(args: argparse.Namespace) -> int:
    payload = {
        "user": args.user,
        "action_id": args.action_id,
        "value": args.value,
        "channel": args.channel,
        "message_ts": args.ts,
    }
    return _run(_post(f"{args.emulator}/_emulator/action", payload))


def _messages(args: argparse.Namespace) -> int:
    async def fetch() -> int:
        params = {"channel": args.channel} if args.channel else {}
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{args.emulator}/_emulator/messages", params=params) as response,
        ):
            print(json.dumps(await response.json(), indent=2))
            return 0

    return _run(fetch())

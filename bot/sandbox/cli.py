"""`chatops sandbox ...`: drive a running sandbox from a second terminal.

Alerts go to the bot's webhook as Alertmanager would send them; slash commands,
reactions and button clicks go through the emulator, which signs them as Slack does.
Every failure exits non-zero with one line that says what went wrong: a misspelt
command, an unknown user or message, or a bot that answered with an error.

The emulator's control endpoints want the token of the running sandbox: it is read from
the file `chatops serve --sandbox` writes for its port (`bot.sandbox.guard.token_file`),
or from $CHATOPS_SANDBOX_TOKEN (for an emulator on another machine or user).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from bot.runner import SANDBOX_WEBHOOK_TOKEN
from bot.sandbox.guard import TOKEN_ENV, read_token, token_file
from bot.sandbox.page import EXAMPLES, resolved_copy
from bot.terminal import say

TIMEOUT = aiohttp.ClientTimeout(total=60)


def add_sandbox_commands(sub: Any) -> None:
    sandbox = sub.add_parser("sandbox", help="send a running sandbox alerts, commands, reactions")
    sandbox.add_argument("--bot", default="http://127.0.0.1:3000", help="the bot's URL")
    sandbox.add_argument("--emulator", default="http://127.0.0.1:3001", help="the emulator's URL")
    actions = sandbox.add_subparsers(dest="sandbox_command", required=True)

    alert = actions.add_parser(
        "alert", help="post an Alertmanager notification (file or example name)"
    )
    alert.add_argument("file")
    alert.add_argument("--resolve", action="store_true", help="send it as resolved")
    alert.add_argument("--token", default=SANDBOX_WEBHOOK_TOKEN)
    alert.set_defaults(func=_alert)

    command = actions.add_parser("command", help='run a slash command, e.g. "/deploy api v1.4.0"')
    command.add_argument("text")
    command.add_argument("--as", dest="user", default="U0000DEP01")
    command.add_argument("--channel", default="C0000DEPLY")
    command.set_defaults(func=_command)

    react = actions.add_parser("react", help="add (or --remove) a reaction to a message")
    react.add_argument("channel")
    react.add_argument("ts", help='a message ts, or "latest" (the newest message)')
    react.add_argument("reaction")
    react.add_argument("--as", dest="user", default="U0000APR01")
    react.add_argument("--remove", action="store_true")
    react.set_defaults(func=_react)

    click = actions.add_parser("click", help="click a button by its label or action id")
    click.add_argument("channel")
    click.add_argument("ts", help='a message ts, or "latest" (the newest message with it)')
    click.add_argument("button", help='the label ("Acknowledge") or the action id')
    click.add_argument("value", nargs="?", help="default: the button's own value")
    click.add_argument("--as", dest="user", default="U0000ONC01")
    click.add_argument("--block-id", help="for a button the message no longer shows")
    click.set_defaults(func=_click)

    messages = actions.add_parser("messages", help="show what the bot posted, as Slack shows it")
    messages.add_argument("--channel")
    messages.add_argument("--json", action="store_true", help="the raw JSON instead")
    messages.set_defaults(func=_messages)

    users = actions.add_parser("users", help="list the sandbox users and what they may do")
    users.set_defaults(func=_users)


class Failed(Exception):
    """One line for stderr; the command exits 1."""


def _run(coro: Any, where: str) -> int:
    try:
        return int(asyncio.run(coro))
    except Failed as exc:
        say(f"error: {exc}", file=sys.stderr)
        return 1
    except aiohttp.ClientConnectionError:
        say(
            f"error: nothing answers at {where}; start the sandbox with `make sandbox` "
            "(or pass --bot / --emulator)",
            file=sys.stderr,
        )
        return 1


async def _request(
    method: str, url: str, payload: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        session.request(method, url, json=payload, headers=headers or {}) as response,
    ):
        text = await response.text()
        try:
            return response.status, json.loads(text) if text else None
        except ValueError:
            return response.status, text


async def _emulator(method: str, url: str, payload: Any = None) -> tuple[int, Any]:
    """A request to the emulator with the running sandbox's token."""
    port = URL(url).port or 80
    token = read_token(port)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    status, body = await _request(method, url, payload, headers)
    if status == 401 and token is None:
        raise Failed(
            f"no sandbox token: {token_file(port)} does not exist (is `chatops serve "
            f"--sandbox --sandbox-port {port}` running as this user?) and {TOKEN_ENV} is unset"
        )
    if status == 401:
        raise Failed(
            f"the emulator refused the sandbox token: {_short(body)} (is the token from "
            "another run, or another sandbox on that port?)"
        )
    return status, body


async def _control(url: str, payload: dict[str, Any]) -> Any:
    """POST to the emulator's control API; Failed unless the bot took it too."""
    status, body = await _emulator("POST", url, payload)
    if not isinstance(body, dict) or status >= 300 or not body.get("ok"):
        error = body.get("error") if isinstance(body, dict) else body
        raise Failed(str(error or f"the emulator answered {status}"))
    answered = body.get("status")
    if isinstance(answered, int) and answered >= 300:
        raise Failed(f"the bot answered {answered}: {_short(body.get('body'))}")
    return body.get("body")


def _short(body: Any) -> str:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return text[:300] if text else "(empty)"


def _say_answer(body: Any) -> int:
    """What the bot answered at once (its ephemeral reply to a command, say)."""
    if isinstance(body, dict) and body.get("text"):
        say(body["text"])
    else:
        say("ok")
    return 0


def _alert(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.exists():
        path = EXAMPLES / (args.file if args.file.endswith(".json") else f"{args.file}.json")
    if not path.exists():
        names = ", ".join(p.stem for p in sorted(EXAMPLES.glob("*.json")))
        say(f"error: no file {args.file}; examples: {names}", file=sys.stderr)
        return 2
    try:
        payload = json.loads(path.read_text())
    except ValueError as exc:
        say(f"error: {path} is not JSON: {exc}", file=sys.stderr)
        return 2
    if args.resolve:
        payload = resolved_copy(payload)

    async def send() -> int:
        url = f"{args.bot}/webhooks/alertmanager"
        status, body = await _request(
            "POST", url, payload, {"Authorization": f"Bearer {args.token}"}
        )
        if status >= 300:
            raise Failed(f"the bot answered {status}: {_short(body)}")
        state = payload.get("status", "firing")
        say(f"sent {path.stem} ({state}): the bot answered {status} {_short(body)}")
        return 0

    return _run(send(), args.bot)


def _command(args: argparse.Namespace) -> int:
    command, _, text = args.text.strip().partition(" ")
    payload = {"command": command, "text": text, "user": args.user, "channel": args.channel}

    async def send() -> int:
        return _say_answer(await _control(f"{args.emulator}/_emulator/command", payload))

    return _run(send(), args.emulator)


def _react(args: argparse.Namespace) -> int:
    payload = {
        "user": args.user,
        "reaction": args.reaction,
        "channel": args.channel,
        "ts": args.ts,
        "removed": args.remove,
    }

    async def send() -> int:
        await _control(f"{args.emulator}/_emulator/reaction", payload)
        say("ok")
        return 0

    return _run(send(), args.emulator)


def _click(args: argparse.Namespace) -> int:
    payload: dict[str, Any] = {
        "user": args.user,
        "action_id": args.button,
        "label": args.button,
        "channel": args.channel,
        "message_ts": args.ts,
    }
    if args.value is not None:
        payload["value"] = args.value
    if args.block_id:
        payload["block_id"] = args.block_id
        payload.pop("label")

    async def send() -> int:
        return _say_answer(await _control(f"{args.emulator}/_emulator/action", payload))

    return _run(send(), args.emulator)


def _messages(args: argparse.Namespace) -> int:
    async def fetch() -> int:
        params = f"?channel={args.channel}" if args.channel else ""
        status, body = await _emulator("GET", f"{args.emulator}/_emulator/messages{params}")
        if status >= 300 or not isinstance(body, dict):
            raise Failed(f"the emulator answered {status}: {_short(body)}")
        if args.json:
            say(json.dumps(body, indent=2, ensure_ascii=False))
            return 0
        say(readable_messages(body))
        return 0

    return _run(fetch(), args.emulator)


def readable_messages(body: dict[str, Any]) -> str:
    """Each message under a line with its channel and ts (what react and click take)."""
    blocks: list[str] = []
    for message in [*body.get("messages", []), *body.get("ephemerals", [])]:
        edited = f", edited {message['edits']}x" if message.get("edits") else ""
        head = f"== {message['channel']} ts={message['ts']}{edited}"
        replies = message.get("replies") or []
        if replies:
            head += f" ({len(replies)} in thread: " + ", ".join(r["ts"] for r in replies) + ")"
        blocks.append(f"{head}\n{message['rendered']}")
    return "\n\n".join(blocks) if blocks else "(no messages yet)"


def _users(args: argparse.Namespace) -> int:
    async def fetch() -> int:
        status, body = await _emulator("GET", f"{args.emulator}/_emulator/users")
        if status >= 300 or not isinstance(body, dict):
            raise Failed(f"the emulator answered {status}: {_short(body)}")
        for user in body["users"]:
            roles = ", ".join(user["roles"])
            say(f"{user['id']}  {user['name']:<6} {user['real_name']:<14} {roles}")
        return 0

    return _run(fetch(), args.emulator)

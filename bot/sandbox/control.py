"""The emulator's control API, for a person driving the sandbox from a second terminal.

`chatops sandbox command /deploy ...` cannot call Python methods on an emulator that
runs inside the `chatops serve` process, so the same actions are offered as JSON
endpoints under `/_emulator/`: act as a user (command, reaction, button click) and
look at what the bot posted. In sandbox mode they want the per-start token and this
server's Host (`bot.sandbox.guard`); an emulator a test starts in-process has no guard.

While the bot is connected by Socket Mode the same endpoints deliver over the socket;
a bot that does not acknowledge within 3 s is reported as 504.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox.acting import ActingForUsers
from bot.sandbox.clicks import LATEST, find_target
from bot.sandbox.driver import BotResponse, control_body
from bot.sandbox.emoji import is_known_emoji
from bot.sandbox.render import render_text
from bot.sandbox.store import JSON, Message

Forward = Callable[[JSON], Awaitable[BotResponse]]


def add_control_routes(app: web.Application, emulator: ActingForUsers) -> None:
    controls = Controls(emulator)
    app.router.add_post("/_emulator/command", _forwarding(controls.command))
    app.router.add_get("/_emulator/socket", controls.socket_status)
    app.router.add_post("/_emulator/reaction", _forwarding(controls.reaction))
    app.router.add_post("/_emulator/action", _forwarding(controls.action))
    app.router.add_get("/_emulator/messages", controls.messages)
    app.router.add_get("/_emulator/calls", controls.calls)


class Controls:
    """Each endpoint's work: acting as a user is forwarded to the bot, looking is local."""

    def __init__(self, emulator: ActingForUsers) -> None:
        self.emulator = emulator

    def known(self, body: JSON) -> tuple[str, str]:
        """The acting user and channel, each named in a clear 404 when unknown."""
        user, channel = _str(body, "user"), _str(body, "channel")
        store = self.emulator.store
        if user not in store.users or store.users[user].is_bot:
            people = ", ".join(
                f"{u.id} ({u.real_name})" for u in store.users.values() if not u.is_bot
            )
            raise LookupError(f"unknown user {user!r}; the sandbox users are: {people}")
        if channel not in store.channels:
            names = ", ".join(f"{c.id} (#{c.name})" for c in store.channels.values())
            raise LookupError(f"unknown channel {channel!r}; the channels are: {names}")
        return user, channel

    async def command(self, body: JSON) -> BotResponse:
        user, channel = self.known(body)
        name = _str(body, "command")
        name = name if name.startswith("/") else f"/{name}"
        known_commands = self.emulator.slash_commands
        if known_commands is not None and name not in known_commands:
            # What Slack itself answers: an unregistered command never reaches the app.
            raise LookupError(
                f"{name} is not a valid command; the app's commands are: "
                + ", ".join(sorted(known_commands))
            )
        return await self.emulator.send_command(
            name,
            str(body.get("text", "")),
            user=user,
            channel=channel,
        )

    async def reaction(self, body: JSON) -> BotResponse:
        user, channel = self.known(body)
        ts, name = _str(body, "ts"), _str(body, "reaction").strip(":")
        if ts == LATEST:
            newest = self.emulator.messages(channel)
            ts = newest[-1].ts if newest else ts
        if self.emulator.message(channel, ts) is None:
            raise LookupError(
                f"no message {ts} in {channel}; `chatops sandbox messages` lists them"
            )
        if not is_known_emoji(name):
            raise _BadRequest(f"invalid_name: no emoji called :{name}:")
        return await self.emulator.send_reaction(
            user=user,
            reaction=name,
            channel=channel,
            ts=ts,
            removed=bool(body.get("removed", False)),
        )

    async def action(self, body: JSON) -> BotResponse:
        user, channel = self.known(body)
        block_id = body.get("block_id")
        ts = _str(body, "message_ts")
        if block_id is not None:
            # A button the message no longer shows: exactly as addressed.
            return await self.emulator.send_block_action(
                user=user,
                action_id=_str(body, "action_id"),
                value=str(body.get("value", "")),
                channel=channel,
                message_ts=ts,
                block_id=str(block_id),
            )
        wanted = str(body.get("label") or "") or _str(body, "action_id")
        target = find_target(self.emulator.store, channel, ts, wanted)
        value = body.get("value")
        return await self.emulator.send_block_action(
            user=user,
            action_id=target.action_id,
            value=target.value if value is None or value == "" else str(value),
            channel=channel,
            message_ts=target.message.ts,
            block_id=target.block_id,
        )

    async def messages(self, request: web.Request) -> web.Response:
        channel = request.query.get("channel")
        channels = [channel] if channel else list(self.emulator.store.channels)
        out: list[JSON] = []
        for channel_id in channels:
            for message in self.emulator.messages(channel_id):
                replies = self.emulator.replies(channel_id, message.ts)
                item = _message_json(message, replies)
                item["replies"] = [_message_json(r) for r in replies]
                out.append(item)
        ephemerals = [
            _message_json(m)
            for m in self.emulator.ephemerals
            if not channel or m.channel == channel
        ]
        return web.json_response({"ok": True, "messages": out, "ephemerals": ephemerals})

    async def calls(self, request: web.Request) -> web.Response:
        method = request.query.get("method")
        return web.json_response(
            {
                "ok": True,
                "calls": [
                    {
                        "method": c.method,
                        "args": c.args,
                        "status": c.status,
                        "response": c.response,
                        "at": c.at,
                    }
                    for c in self.emulator.calls(method)
                ],
            }
        )

    async def socket_status(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "enabled": self.emulator.app_token is not None,
                "connections": self.emulator.socket.connection_count,
                "deliveries": [
                    {
                        "envelope_id": d.envelope_id,
                        "type": d.type,
                        "acked": d.acked,
                        "failure": d.failure,
                    }
                    for d in self.emulator.deliveries
                ],
            }
        )


class _BadRequest(Exception):
    pass


def _str(body: JSON, key: str) -> str:
    value = body.get(key)
    if value is None or value == "":
        raise _BadRequest(f"missing field: {key}")
    return str(value)


def _message_json(message: Message, replies: list[Message] | None = None) -> JSON:
    out = message.to_dict()
    out["rendered"] = render_text(message, replies or [])
    return out


def _forwarding(forward: Forward) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Wrap a delivery so every failure becomes a JSON answer the CLI can print."""

    async def handler(request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
        except ValueError:
            return _fail(400, "body must be a JSON object")
        if not isinstance(body, dict):
            return _fail(400, "body must be a JSON object")
        try:
            response = await forward(body)
        except _BadRequest as exc:
            return _fail(400, str(exc))
        except LookupError as exc:
            return _fail(404, str(exc))
        except RuntimeError as exc:
            return _fail(409, str(exc))
        except TimeoutError as exc:  # socket_mode.AckTimeout: no ack within 3 s
            return _fail(504, str(exc))
        except ConnectionError as exc:  # the Socket Mode connection closed mid-delivery
            return _fail(502, f"the bot did not answer: {exc}")
        except aiohttp.ClientError as exc:
            return _fail(502, f"the bot did not answer: {exc}")
        return web.json_response(control_body(response))

    return handler


def _fail(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)

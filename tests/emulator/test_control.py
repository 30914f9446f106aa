"""The control API a second terminal uses, and waiting for the bot's effects."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.store import Message
from tests.emulator.conftest import FakeBot

DEPLOYS = "C0000DEPLY"
BUTTONS: list[dict[str, Any]] = [
    {
        "type": "actions",
        "elements": [
            {"type": "button", "action_id": "ack", "text": {"type": "plain_text", "text": "Ack"}}
        ],
    }
]


def closed_port() -> int:
    """A local port that was just free, so connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def request(
    method: str, url: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, json=body) as res:
            return res.status, await res.json()


async def test_command_reaction_and_action_round_trip(
    emulator: SlackEmulator, client: AsyncWebClient, bot: FakeBot
) -> None:
    bot.reply = {"text": "Deploy requested"}
    status, body = await request(
        "POST",
        f"{emulator.url}_emulator/command",
        {"command": "/deploy", "text": "api v1.4.0", "user": "U0000DEP01", "channel": DEPLOYS},
    )
    assert status == 200
    assert body == {"ok": True, "status": 200, "body": {"text": "Deploy requested"}}
    sent = {k: v[0] for k, v in parse_qs(bot.received[0].body.decode()).items()}
    assert (sent["command"], sent["user_id"]) == ("/deploy", "U0000DEP01")

    ts = (await client.chat_postMessage(channel=DEPLOYS, text="approve?", blocks=BUTTONS))["ts"]
    bot.reply = None
    status, body = await request(
        "POST",
        f"{emulator.url}_emulator/reaction",
        {"user": "U0000APR01", "reaction": "white_check_mark", "channel": DEPLOYS, "ts": ts},
    )
    assert (status, body) == (200, {"ok": True, "status": 200, "body": ""})
    assert json.loads(bot.received[1].body)["event"]["reaction"] == "white_check_mark"

    status, body = await request(
        "POST",
        f"{emulator.url}_emulator/action",
        {
            "user": "U0000ONC01",
            "action_id": "ack",
            "value": "g1",
            "channel": DEPLOYS,
            "message_ts": ts,
        },
    )
    assert status == 200 and body["status"] == 200
    payload = json.loads(parse_qs(bot.received[2].body.decode())["payload"][0])
    assert payload["actions"][0]["value"] == "g1"


async def test_messages_and_calls_views(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    parent = (await client.chat_postMessage(channel=DEPLOYS, text="Deploy api v1.4.0"))["ts"]
    await client.chat_postMessage(channel=DEPLOYS, text="Running", thread_ts=parent)
    await client.chat_postEphemeral(channel=DEPLOYS, user="U0000OUT01", text="Not allowed")
    await client.chat_postMessage(channel="C0000ALERT", text="elsewhere")

    status, body = await request("GET", f"{emulator.url}_emulator/messages?channel={DEPLOYS}")
    assert status == 200
    [message] = body["messages"]
    assert message["text"] == "Deploy api v1.4.0"
    assert [r["text"] for r in message["replies"]] == ["Running"]
    assert message["rendered"] == "Deploy api v1.4.0\n    Running"
    assert [e["ephemeral_user"] for e in body["ephemerals"]] == ["U0000OUT01"]

    _, everything = await request("GET", f"{emulator.url}_emulator/messages")
    assert {m["channel"] for m in everything["messages"]} == {DEPLOYS, "C0000ALERT"}

    _, calls = await request("GET", f"{emulator.url}_emulator/calls?method=chat.postEphemeral")
    [call] = calls["calls"]
    assert call["args"]["user"] == "U0000OUT01" and call["status"] == 200


async def test_control_errors_are_json(emulator: SlackEmulator) -> None:
    url = f"{emulator.url}_emulator/command"
    command = {"command": "/deploy", "text": "", "user": "U0000DEP01", "channel": DEPLOYS}
    status, body = await request("POST", url, command)
    assert status == 409 and "bot_url" in body["error"]

    emulator.bot_url = f"http://127.0.0.1:{closed_port()}/slack/events"
    status, body = await request("POST", url, command)
    assert status == 502 and body["ok"] is False

    status, body = await request("POST", url, {"command": "/deploy"})
    assert (status, body["error"]) == (400, "missing field: user")
    status, body = await request("POST", url, command | {"user": "U404"})
    assert status == 404 and "U404" in body["error"]


async def test_wait_for_returns_the_value_once_it_appears(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel=DEPLOYS, text="done")

    task = asyncio.create_task(later())
    found: list[Message] = await emulator.wait_for(lambda: emulator.messages(DEPLOYS))
    await task
    assert found[0].text == "done"


async def test_wait_for_timeout_explains_what_happened(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel=DEPLOYS, text="x")
    with pytest.raises(AssertionError) as info:
        await emulator.wait_for(lambda: emulator.messages("C0000INCID"), timeout=0.05)
    report = str(info.value)
    assert "test_control.py" in report
    assert "chat.postMessage -> 200 ok" in report
    assert "C0000DEPLY" in report

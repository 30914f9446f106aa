"""The emulator's Socket Mode side, driven by a bare WebSocket client that plays the app.

What Slack documents (docs.slack.dev "Using Socket Mode", apps.connections.open): the
app-level token opens a single-use URL, the socket starts with `hello`, payloads come in
envelopes and are acknowledged by envelope_id within 3 seconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox import socket_mode
from bot.sandbox.emulator import AckTimeout, SlackEmulator, default_workspace

APP_TOKEN = "xapp-1-A0000000001-emulator-test"
ALERTS = "C0000ALERT"


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(app_token=APP_TOKEN)
    default_workspace(emu)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def open_url(emulator: SlackEmulator, token: str = APP_TOKEN) -> str:
    client = AsyncWebClient(token=emulator.token, base_url=emulator.base_url)
    opened = await client.apps_connections_open(app_token=token)
    return str(opened["url"])


async def connect(
    emulator: SlackEmulator, http: aiohttp.ClientSession
) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(await open_url(emulator))
    hello = await ws.receive_json(timeout=2)
    assert hello["type"] == "hello"
    await emulator.wait_for_socket()
    return ws


def post_button_message(emulator: SlackEmulator) -> str:
    blocks: list[dict[str, Any]] = [
        {
            "type": "actions",
            "block_id": "acts",
            "elements": [
                {
                    "type": "button",
                    "action_id": "ack",
                    "value": "7",
                    "text": {"type": "plain_text", "text": "Acknowledge"},
                }
            ],
        }
    ]
    answer = emulator.api.chat_post_message({"channel": ALERTS, "text": "alert", "blocks": blocks})
    return str(answer["ts"])


async def test_apps_connections_open_takes_only_the_app_level_token(
    emulator: SlackEmulator,
) -> None:
    url = await open_url(emulator)
    assert url.startswith(emulator.url.replace("http://", "ws://") + "_emulator/socket/")
    for token, word in [
        ("xapp-1-A0000000001-wrong", "invalid_auth"),
        (emulator.token, "not_allowed_token_type"),  # the bot token is the wrong kind
    ]:
        with pytest.raises(SlackApiError) as caught:
            await open_url(emulator, token)
        assert caught.value.response["error"] == word
    # And the app-level token is not a bot token for the rest of the Web API.
    app_client = AsyncWebClient(token=APP_TOKEN, base_url=emulator.base_url)
    with pytest.raises(SlackApiError) as caught:
        await app_client.chat_postMessage(channel=ALERTS, text="hi")
    assert caught.value.response["error"] == "not_allowed_token_type"


async def test_without_an_app_token_socket_mode_is_off(http: aiohttp.ClientSession) -> None:
    emu = SlackEmulator()
    await emu.start()
    try:
        async with http.post(
            f"{emu.base_url}apps.connections.open", headers={"Authorization": "Bearer xapp-1-x"}
        ) as response:
            assert (await response.json())["error"] == "invalid_auth"
        async with http.post(f"{emu.base_url}apps.connections.open") as response:
            assert (await response.json())["error"] == "not_authed"
    finally:
        await emu.stop()


async def test_the_socket_says_hello_and_a_ticket_is_single_use(
    emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    url = await open_url(emulator)
    async with http.ws_connect(url) as ws:
        hello = await ws.receive_json(timeout=2)
        assert hello["type"] == "hello"
        assert hello["num_connections"] == 1
        assert hello["connection_info"]["app_id"]
        assert hello["debug_info"]["approximate_connection_time"] > 0
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url)
        assert refused.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await http.ws_connect(url.rsplit("/", 1)[0] + "/made-up-ticket")


async def test_a_click_arrives_as_an_interactive_envelope_and_is_acked(
    emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    ts = post_button_message(emulator)
    ws = await connect(emulator, http)

    async def app() -> dict[str, Any]:
        envelope = await ws.receive_json(timeout=2)
        await ws.send_str(json.dumps({"envelope_id": envelope["envelope_id"]}))
        return dict(envelope)

    served = asyncio.create_task(app())
    response = await emulator.send_block_action(
        user="U0000ONC01", action_id="ack", value="7", channel=ALERTS, message_ts=ts
    )
    envelope = await served
    assert envelope["type"] == "interactive"
    assert envelope["accepts_response_payload"] is True
    assert envelope["payload"]["type"] == "block_actions"
    assert envelope["payload"]["actions"][0]["value"] == "7"
    assert envelope["payload"]["container"]["message_ts"] == ts
    assert response.transport == "socket" and response.status == 200
    assert response.envelope_id == envelope["envelope_id"] and response.json is None
    [delivery] = emulator.deliveries
    assert delivery.acked and delivery.ack_payload is None and delivery.failure is None
    await ws.close()


async def test_a_command_ack_payload_is_its_immediate_response(
    emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    ws = await connect(emulator, http)

    async def app() -> dict[str, Any]:
        envelope = await ws.receive_json(timeout=2)
        await ws.send_json(
            {"envelope_id": envelope["envelope_id"], "payload": {"text": "Usage: /deploy ..."}}
        )
        return dict(envelope)

    served = asyncio.create_task(app())
    response = await emulator.send_command("/deploy", "", user="U0000DEP01", channel="C0000DEPLY")
    envelope = await served
    assert envelope["type"] == "slash_commands" and envelope["accepts_response_payload"] is True
    assert envelope["payload"]["command"] == "/deploy"
    assert envelope["payload"]["response_url"].startswith(emulator.url)
    assert response.json == {"text": "Usage: /deploy ..."}
    [shown] = emulator.responses
    assert shown.body == {"text": "Usage: /deploy ..."} and shown.user == "U0000DEP01"
    [ephemeral] = emulator.ephemerals
    assert ephemeral.ephemeral_user == "U0000DEP01" and ephemeral.text == "Usage: /deploy ..."
    await ws.close()


async def test_an_event_envelope_and_a_redelivery(
    emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    ts = post_button_message(emulator)
    ws = await connect(emulator, http)
    seen: list[dict[str, Any]] = []

    async def app() -> None:
        for _ in range(2):
            envelope = await ws.receive_json(timeout=2)
            seen.append(envelope)
            await ws.send_json({"envelope_id": envelope["envelope_id"]})

    served = asyncio.create_task(app())
    await emulator.send_reaction(user="U0000APR01", reaction="eyes", channel=ALERTS, ts=ts)
    await emulator.send_reaction(
        user="U0000APR01", reaction="eyes", channel=ALERTS, ts=ts, event_id="EvX", retry_num=1
    )
    await served
    first, again = seen
    assert first["type"] == "events_api" and first["accepts_response_payload"] is False
    assert first["payload"]["event"]["type"] == "reaction_added"
    assert "retry_attempt" not in first
    assert again["retry_attempt"] == 1 and again["retry_reason"]
    assert all(d.acked for d in emulator.deliveries)
    await ws.close()


async def test_no_ack_within_the_limit_fails_clearly(
    emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    assert socket_mode.ACK_TIMEOUT == 3.0  # Slack's limit; shortened below to keep tests fast
    emulator.socket.ack_timeout = 0.2
    ts = post_button_message(emulator)
    ws = await connect(emulator, http)
    with pytest.raises(AckTimeout, match=r"did not acknowledge the interactive envelope .* 0\.2s"):
        await emulator.send_block_action(
            user="U0000ONC01", action_id="ack", value="7", channel=ALERTS, message_ts=ts
        )
    [delivery] = emulator.deliveries
    assert not delivery.acked and delivery.failure == "timeout"
    # A late ack is kept aside, not matched to anything.
    envelope = await ws.receive_json(timeout=2)
    await ws.send_json({"envelope_id": envelope["envelope_id"]})
    await emulator.wait_for(lambda: emulator.socket.stray_acks)
    await ws.close()


async def test_control_api_reports_a_missing_ack_as_504(
    emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    emulator.socket.ack_timeout = 0.2
    ws = await connect(emulator, http)
    async with http.post(
        f"{emulator.url}_emulator/command",
        json={"command": "/deploy", "text": "", "user": "U0000DEP01", "channel": "C0000DEPLY"},
    ) as response:
        assert response.status == 504
        assert "did not acknowledge" in (await response.json())["error"]
    await ws.close()


async def test_disconnect_message_and_http_again_once_the_app_is_gone(
    emulator: SlackEmulator, http: aiohttp.ClientSession
) -> None:
    ws = await connect(emulator, http)
    assert await emulator.disconnect_socket("warning") == 1
    message = await ws.receive_json(timeout=2)
    assert message == {
        "type": "disconnect",
        "reason": "warning",
        "debug_info": {"host": "applink-emulator"},
    }
    await ws.close()
    await emulator.wait_for(lambda: not emulator.socket_connected)
    # No socket: deliveries fall back to HTTP, which needs bot_url.
    with pytest.raises(RuntimeError, match="bot_url is not set"):
        await emulator.send_command("/deploy", "", user="U0000DEP01", channel="C0000DEPLY")

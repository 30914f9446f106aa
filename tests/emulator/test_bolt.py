"""A real slack_bolt AsyncApp against the emulator, end to end.

The fake bot in conftest only records requests; this proves the other half: bolt
verifies the emulator's signatures, parses its command, event and interactivity
payloads, and its `say()` / `respond()` land back in the emulator where tests look.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.emulator import SlackEmulator

DEPLOYS = "C0000DEPLY"
ALERTS = "C0000ALERT"
ACK_BUTTON: list[dict[str, Any]] = [
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "ack",
                "value": "group-1",
                "text": {"type": "plain_text", "text": "Acknowledge"},
            }
        ],
    }
]


def build_app(emulator: SlackEmulator) -> AsyncApp:
    app = AsyncApp(
        signing_secret=emulator.signing_secret,
        client=AsyncWebClient(token=emulator.token, base_url=emulator.base_url),
    )

    @app.command("/deploy")
    async def deploy(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        await ack()
        await respond(response_type="in_channel", text=f"Deploy requested: {command['text']}")

    @app.event("reaction_added")
    async def reaction(event: dict[str, Any], client: AsyncWebClient) -> None:
        item = event["item"]
        await client.chat_postMessage(
            channel=item["channel"],
            thread_ts=item["ts"],
            text=f"<@{event['user']}> approved with :{event['reaction']}:",
        )

    @app.action("ack")
    async def acknowledge(ack: Any, respond: Any, body: dict[str, Any]) -> None:
        await ack()
        user, value = body["user"]["id"], body["actions"][0]["value"]
        await respond(replace_original=True, text=f"{value} acknowledged by <@{user}>")

    return app


@pytest.fixture
async def bolt_bot(emulator: SlackEmulator) -> AsyncIterator[AsyncApp]:
    app = build_app(emulator)

    async def events(request: web.Request) -> web.Response:
        response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    emulator.bot_url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    try:
        yield app
    finally:
        await runner.cleanup()


@pytest.mark.usefixtures("bolt_bot")
async def test_command_respond_lands_in_the_channel(emulator: SlackEmulator) -> None:
    res = await emulator.send_command("/deploy", "api v1.4.0", user="U0000DEP01", channel=DEPLOYS)
    assert res.status == 200
    [message] = await emulator.wait_for(lambda: emulator.messages(DEPLOYS))
    assert message.text == "Deploy requested: api v1.4.0"


@pytest.mark.usefixtures("bolt_bot")
async def test_reaction_event_reaches_the_handler(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    ts = (await client.chat_postMessage(channel=DEPLOYS, text="approve?"))["ts"]
    res = await emulator.send_reaction(
        user="U0000APR01", reaction="white_check_mark", channel=DEPLOYS, ts=ts
    )
    assert res.status == 200
    [reply] = await emulator.wait_for(lambda: emulator.replies(DEPLOYS, ts))
    assert reply.text == "<@U0000APR01> approved with :white_check_mark:"
    assert not reply.thread_missing


@pytest.mark.usefixtures("bolt_bot")
async def test_button_click_replaces_the_original(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    ts = (await client.chat_postMessage(channel=ALERTS, text="alert", blocks=ACK_BUTTON))["ts"]
    res = await emulator.send_block_action(
        user="U0000ONC01", action_id="ack", value="group-1", channel=ALERTS, message_ts=ts
    )
    assert res.status == 200
    message = emulator.message(ALERTS, ts)
    assert message is not None
    await emulator.wait_for(lambda: len(message.versions) == 2)
    assert message.text == "group-1 acknowledged by <@U0000ONC01>"


@pytest.mark.usefixtures("bolt_bot")
async def test_bolt_rejects_a_forged_signature(emulator: SlackEmulator) -> None:
    body = b"command=%2Fdeploy&text=api&user_id=U0000DEP01&channel_id=C0000DEPLY"
    headers = emulator.sign(body)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    res = await emulator.send_raw(body, headers, "application/x-www-form-urlencoded")
    assert res.status == 401
    assert emulator.messages(DEPLOYS) == []

"""The emulator playing Slack towards the bot: signed commands, events and clicks."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.emulator import SlackEmulator
from tests.emulator.conftest import FakeBot, Received

DEPLOYS = "C0000DEPLY"
ALERTS = "C0000ALERT"
ALERT_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*HighErrorRate*"}},
    {
        "type": "actions",
        "block_id": "alert-actions",
        "elements": [
            {
                "type": "button",
                "action_id": "ack",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "value": "g1",
            },
        ],
    },
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "Runbook"},
        "accessory": {
            "type": "button",
            "action_id": "runbook",
            "text": {"type": "plain_text", "text": "Open"},
        },
    },
]


def form(received: Received) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(received.body.decode()).items()}


def verified(emulator: SlackEmulator, received: Received) -> bool:
    return SignatureVerifier(emulator.signing_secret).is_valid_request(
        received.body, received.headers
    )


async def post_json(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=body) as res:
            return res.status, await res.json()


def test_sign_matches_slack_sdk_verification(emulator: SlackEmulator) -> None:
    body = b"token=x&command=%2Fdeploy"
    verifier = SignatureVerifier(emulator.signing_secret)
    assert verifier.is_valid_request(body, emulator.sign(body))
    assert not verifier.is_valid_request(body + b"x", emulator.sign(body))
    assert not verifier.is_valid_request(body, emulator.sign(body, int(time.time()) - 600))
    assert not SignatureVerifier("another-secret").is_valid_request(body, emulator.sign(body))


async def test_send_command_posts_a_signed_slash_command(
    emulator: SlackEmulator, bot: FakeBot
) -> None:
    bot.reply = {"text": "Deploy requested"}
    res = await emulator.send_command(
        "/deploy", "api v1.4.0 production", user="U0000DEP01", channel=DEPLOYS
    )
    assert (res.status, res.json) == (200, {"text": "Deploy requested"})
    [received] = bot.received
    assert received.content_type == "application/x-www-form-urlencoded"
    assert verified(emulator, received)
    fields = form(received)
    assert (
        fields
        | {
            "command": "/deploy",
            "text": "api v1.4.0 production",
            "user_id": "U0000DEP01",
            "user_name": "dana",
            "channel_id": DEPLOYS,
            "channel_name": "deploys",
            "is_enterprise_install": "false",
        }
        == fields
    )
    for key in ("token", "team_id", "team_domain", "api_app_id", "trigger_id"):
        assert fields[key]
    assert fields["response_url"].startswith(f"{emulator.url}_emulator/response/")


async def test_response_url_defaults_to_an_ephemeral_for_the_invoker(
    emulator: SlackEmulator, bot: FakeBot
) -> None:
    seen: list[tuple[str, str | None]] = []
    emulator.on_event = lambda kind, message: seen.append((kind, message.ephemeral_user))
    await emulator.send_command("/deploy", "api", user="U0000DEP01", channel=DEPLOYS)
    response_url = form(bot.received[0])["response_url"]
    status, body = await post_json(response_url, {"text": "Usage: /deploy <svc> <ver> <env>"})
    assert (status, body) == (200, {"ok": True})
    [eph] = emulator.ephemerals
    assert (eph.ephemeral_user, eph.channel) == ("U0000DEP01", DEPLOYS)
    assert eph.text.startswith("Usage")
    [recorded] = emulator.responses
    assert recorded.response_type == "ephemeral" and recorded.status == 200
    assert seen == [("response", "U0000DEP01")]
    assert emulator.messages(DEPLOYS) == []


async def test_response_url_in_channel_and_use_limit(emulator: SlackEmulator, bot: FakeBot) -> None:
    await emulator.send_command("/shift", "50", user="U0000DEP01", channel=DEPLOYS)
    url = form(bot.received[0])["response_url"]
    for i in range(5):
        status, _ = await post_json(url, {"response_type": "in_channel", "text": f"m{i}"})
        assert status == 200
    assert [m.text for m in emulator.messages(DEPLOYS)] == [f"m{i}" for i in range(5)]
    status, body = await post_json(url, {"text": "sixth"})
    assert status == 404 and body["error"] == "used_url"
    unknown, _ = await post_json(f"{emulator.url}_emulator/response/nope", {"text": "x"})
    assert unknown == 404


async def test_response_url_rejects_invalid_blocks(emulator: SlackEmulator, bot: FakeBot) -> None:
    await emulator.send_command("/shift", "50", user="U0000DEP01", channel=DEPLOYS)
    url = form(bot.received[0])["response_url"]
    status, body = await post_json(url, {"blocks": [{"type": "nope"}]})
    assert status == 400 and body["error"] == "invalid_blocks"
    assert emulator.responses[0].error == "invalid_blocks"
    assert emulator.ephemerals == []


async def test_send_reaction_delivers_an_event_callback(
    emulator: SlackEmulator, client: AsyncWebClient, bot: FakeBot
) -> None:
    ts = (await client.chat_postMessage(channel=DEPLOYS, text="approve?"))["ts"]
    res = await emulator.send_reaction(
        user="U0000APR01", reaction="white_check_mark", channel=DEPLOYS, ts=ts
    )
    assert res.status == 200
    [received] = bot.received
    assert received.content_type == "application/json" and verified(emulator, received)
    envelope = json.loads(received.body)
    assert envelope["type"] == "event_callback"
    assert envelope["event_id"].startswith("Ev") and isinstance(envelope["event_time"], int)
    assert (
        envelope["authorizations"][0] | {"user_id": "U0BOT00001", "is_bot": True}
        == (envelope["authorizations"][0])
    )
    event = envelope["event"]
    assert event["type"] == "reaction_added"
    assert (event["user"], event["reaction"]) == ("U0000APR01", "white_check_mark")
    assert event["item"] == {"type": "message", "channel": DEPLOYS, "ts": ts}
    assert event["item_user"] == "U0BOT00001" and event["event_ts"]
    message = emulator.message(DEPLOYS, ts)
    assert message is not None and message.reactions == {"white_check_mark": ["U0000APR01"]}

    await emulator.send_reaction(
        user="U0000APR01", reaction="white_check_mark", channel=DEPLOYS, ts=ts, removed=True
    )
    assert json.loads(bot.received[1].body)["event"]["type"] == "reaction_removed"
    assert message.reactions == {}


async def test_retried_reaction_keeps_its_event_id(
    emulator: SlackEmulator, client: AsyncWebClient, bot: FakeBot
) -> None:
    ts = (await client.chat_postMessage(channel=DEPLOYS, text="approve?"))["ts"]
    first = await emulator.send_reaction(user="U0000APR02", reaction="x", channel=DEPLOYS, ts=ts)
    event_id = first.sent["event_id"]
    await emulator.send_reaction(
        user="U0000APR02", reaction="x", channel=DEPLOYS, ts=ts, event_id=event_id, retry_num=1
    )
    retry = bot.received[1]
    assert json.loads(retry.body)["event_id"] == event_id
    assert retry.headers["X-Slack-Retry-Num"] == "1"
    assert retry.headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert "X-Slack-Retry-Num" not in bot.received[0].headers
    message = emulator.message(DEPLOYS, ts)
    assert message is not None and message.reactions == {"x": ["U0000APR02"]}
    # A late redelivery of the add must not undo a removal that happened since.
    await emulator.send_reaction(
        user="U0000APR02", reaction="x", channel=DEPLOYS, ts=ts, removed=True
    )
    await emulator.send_reaction(
        user="U0000APR02", reaction="x", channel=DEPLOYS, ts=ts, event_id=event_id, retry_num=2
    )
    assert message.reactions == {}


async def test_send_block_action_carries_the_stored_message(
    emulator: SlackEmulator, client: AsyncWebClient, bot: FakeBot
) -> None:
    ts = (await client.chat_postMessage(channel=ALERTS, text="alert", blocks=ALERT_BLOCKS))["ts"]
    await emulator.send_block_action(
        user="U0000ONC01", action_id="ack", value="g1", channel=ALERTS, message_ts=ts
    )
    [received] = bot.received
    assert received.content_type == "application/x-www-form-urlencoded"
    assert verified(emulator, received)
    payload = json.loads(form(received)["payload"])
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0000ONC01"
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": ALERTS,
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": ALERTS, "name": "alerts"}
    assert payload["message"]["ts"] == ts and payload["message"]["text"] == "alert"
    assert all(b["block_id"] for b in payload["message"]["blocks"])
    [action] = payload["actions"]
    assert (
        action
        | {
            "action_id": "ack",
            "block_id": "alert-actions",
            "value": "g1",
            "type": "button",
        }
        == action
    )
    assert action["action_ts"] and payload["trigger_id"] and payload["response_url"]
    assert payload["api_app_id"] and payload["team"]["id"] and payload["token"]


async def test_block_action_finds_accessory_buttons_and_replaces_original(
    emulator: SlackEmulator, client: AsyncWebClient, bot: FakeBot
) -> None:
    ts = (await client.chat_postMessage(channel=ALERTS, text="alert", blocks=ALERT_BLOCKS))["ts"]
    await emulator.send_block_action(
        user="U0000ONC01", action_id="runbook", value="", channel=ALERTS, message_ts=ts
    )
    payload = json.loads(form(bot.received[0])["payload"])
    # Blocks sent without an id get a stable one, the same in message and action.
    assert payload["actions"][0]["block_id"] == payload["message"]["blocks"][2]["block_id"]

    status, _ = await post_json(
        payload["response_url"], {"replace_original": True, "text": "Acknowledged by olu"}
    )
    assert status == 200
    message = emulator.message(ALERTS, ts)
    assert message is not None
    assert (message.text, message.blocks, len(message.versions)) == ("Acknowledged by olu", [], 2)
    await post_json(payload["response_url"], {"delete_original": True})
    assert emulator.messages(ALERTS) == []


async def test_block_action_needs_a_real_message_and_button(
    emulator: SlackEmulator, client: AsyncWebClient, bot: FakeBot
) -> None:
    with pytest.raises(LookupError):
        await emulator.send_block_action(
            user="U0000ONC01", action_id="ack", value="", channel=ALERTS, message_ts="1.000100"
        )
    ts = (await client.chat_postMessage(channel=ALERTS, text="plain"))["ts"]
    with pytest.raises(LookupError, match="action_id"):
        await emulator.send_block_action(
            user="U0000ONC01", action_id="ack", value="", channel=ALERTS, message_ts=ts
        )
    # A stale button (no longer in the message) can still be clicked with its block_id.
    res = await emulator.send_block_action(
        user="U0000ONC01", action_id="ack", value="", channel=ALERTS, message_ts=ts, block_id="b"
    )
    assert res.status == 200 and len(bot.received) == 1


async def test_unknown_user_or_channel_is_a_test_mistake(
    emulator: SlackEmulator, bot: FakeBot
) -> None:
    with pytest.raises(LookupError, match="U0000DEP1"):
        await emulator.send_command("/deploy", "", user="U0000DEP1", channel=DEPLOYS)
    with pytest.raises(LookupError):
        await emulator.send_command("/deploy", "", user="U0000DEP01", channel="C404")
    assert bot.received == []


async def test_send_raw_sends_exactly_what_it_is_given(
    emulator: SlackEmulator, bot: FakeBot
) -> None:
    bot.status = 401
    body = b"command=%2Fdeploy"
    stale = emulator.sign(body, timestamp=int(time.time()) - 3600)
    res = await emulator.send_raw(body, stale, "application/x-www-form-urlencoded")
    assert res.status == 401 and res.json is None
    [received] = bot.received
    assert received.body == body
    assert received.headers["X-Slack-Signature"] == stale["X-Slack-Signature"]
    assert not verified(emulator, received)


async def test_sending_without_bot_url_is_an_error() -> None:
    emulator = SlackEmulator()
    with pytest.raises(RuntimeError, match="bot_url"):
        await emulator.send_raw(b"", {}, "application/json")

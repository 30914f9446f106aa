"""The emulator refuses what Slack refuses, in Slack's words, and is slow on demand.

Every test that posts through the emulator is only as strict as it is: a message Slack
would refuse must be refused here, with the body Slack answers (`invalid_blocks` with
`errors` and `response_metadata.messages`), or the bot ships messages that are lost.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.images import slack_can_fetch

ALERTS = "C0000ALERT"


async def refusal(call: object) -> dict[str, object]:
    with pytest.raises(SlackApiError) as raised:
        await call  # type: ignore[misc]
    data = raised.value.response.data
    assert isinstance(data, dict)
    return data


async def test_a_51_block_message_is_refused_with_slacks_error_shape(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    blocks = [{"type": "divider"} for _ in range(51)]
    body = await refusal(client.chat_postMessage(channel=ALERTS, text="x", blocks=blocks))
    assert body == {
        "ok": False,
        "error": "invalid_blocks",
        "errors": ["no more than 50 items allowed [json-pointer:/blocks]"],
        "response_metadata": {
            "messages": ["[ERROR] no more than 50 items allowed [json-pointer:/blocks]"]
        },
    }
    assert emulator.messages(ALERTS) == []
    # 50 is allowed; the same rule holds for chat.update.
    posted = await client.chat_postMessage(channel=ALERTS, text="x", blocks=blocks[:50])
    body = await refusal(
        client.chat_update(channel=ALERTS, ts=posted["ts"], text="x", blocks=blocks)
    )
    assert body["errors"] == ["no more than 50 items allowed [json-pointer:/blocks]"]


async def test_more_than_25_buttons_and_a_long_button_value_are_refused(
    client: AsyncWebClient,
) -> None:
    def button(n: int, value: str = "v") -> dict[str, object]:
        text = {"type": "plain_text", "text": f"b{n}"}
        return {"type": "button", "text": text, "action_id": f"a{n}", "value": value}

    many = [{"type": "actions", "elements": [button(n) for n in range(26)]}]
    body = await refusal(client.chat_postMessage(channel=ALERTS, text="x", blocks=many))
    assert body["errors"] == ["no more than 25 items allowed [json-pointer:/blocks/0/elements]"]
    long_value = [{"type": "actions", "elements": [button(0, "v" * 2001)]}]
    body = await refusal(client.chat_postMessage(channel=ALERTS, text="x", blocks=long_value))
    assert body["errors"] == [
        "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]"
    ]


async def test_an_image_slack_cannot_download_fails_the_whole_message(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    def image(url: str) -> list[dict[str, object]]:
        return [
            {"type": "section", "text": {"type": "mrkdwn", "text": "alert"}},
            {"type": "image", "image_url": url, "alt_text": "panel"},
        ]

    internal = "http://grafana.monitoring.svc:3000/render/panel.png"
    body = await refusal(client.chat_postMessage(channel=ALERTS, text="x", blocks=image(internal)))
    assert body["error"] == "invalid_blocks"
    assert body["errors"] == ["downloading image failed [json-pointer:/blocks/1/image_url]"]
    assert body["response_metadata"] == {
        "messages": ["[ERROR] downloading image failed [json-pointer:/blocks/1/image_url]"]
    }
    public = "https://grafana.example.com/render/panel.png"
    await client.chat_postMessage(channel=ALERTS, text="x", blocks=image(public))
    emulator.refuse_images_from("grafana.example.com")  # a public host that answers 404
    body = await refusal(client.chat_postMessage(channel=ALERTS, text="x", blocks=image(public)))
    assert body["errors"] == ["downloading image failed [json-pointer:/blocks/1/image_url]"]


@pytest.mark.parametrize(
    ("url", "fetchable"),
    [
        ("https://grafana.example.com/a.png", True),
        ("https://8.8.8.8/a.png", True),
        ("http://grafana:3000/a.png", False),
        ("http://localhost/a.png", False),
        ("http://127.0.0.1/a.png", False),
        ("http://10.1.2.3/a.png", False),
        ("http://[::1]/a.png", False),
        ("http://169.254.169.254/a.png", False),
        ("http://grafana.internal/a.png", False),
        ("ftp://grafana.example.com/a.png", False),
    ],
)
def test_which_image_hosts_slack_can_reach(url: str, fetchable: bool) -> None:
    assert slack_can_fetch(url) is fetchable


async def test_posting_where_the_bot_is_not_a_member_is_refused_as_slack_does(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    emulator.add_channel("C0000PUBLC", "public-elsewhere", is_member=False)
    emulator.add_channel("G0000PRIVT", "private-elsewhere", is_private=True, is_member=False)
    body = await refusal(client.chat_postMessage(channel="C0000PUBLC", text="x"))
    assert body["error"] == "not_in_channel"
    body = await refusal(client.chat_postMessage(channel="G0000PRIVT", text="x"))
    assert body["error"] == "channel_not_found"  # a private conversation the bot cannot see
    for channel, error in (("C0000PUBLC", "not_in_channel"), ("G0000PRIVT", "channel_not_found")):
        body = await refusal(
            client.chat_postEphemeral(channel=channel, user="U0000DEP01", text="x")
        )
        assert body["error"] == error
    body = await refusal(client.conversations_history(channel="C0000PUBLC"))
    assert body["error"] == "not_in_channel"
    assert emulator.messages("C0000PUBLC") == [] and emulator.ephemerals == []


async def test_a_fault_answers_with_slacks_whole_body(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    emulator.fail_next(
        "chat.postMessage",
        status=200,
        error="invalid_blocks",
        body={"errors": ["x [json-pointer:/blocks/0]"], "warnings": ["missing_charset"]},
    )
    body = await refusal(client.chat_postMessage(channel=ALERTS, text="x"))
    assert body == {
        "ok": False,
        "error": "invalid_blocks",
        "errors": ["x [json-pointer:/blocks/0]"],
        "warnings": ["missing_charset"],
    }
    emulator.fail_next("chat.postMessage", status=500)
    body = await refusal(client.chat_postMessage(channel=ALERTS, text="x"))
    assert body["error"] == "fatal_error"


async def test_a_hung_channel_answers_late_and_still_posts_what_it_held(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    emulator.hang(30, channel=ALERTS)
    held = asyncio.create_task(client.chat_postMessage(channel=ALERTS, text="held"))
    await emulator.wait_for(lambda: emulator.held_calls >= 1, timeout=5)
    # Another channel answers at once, and nothing of the held call is visible yet.
    await client.chat_postMessage(channel="C0000DEPLY", text="free")
    assert emulator.messages(ALERTS) == []
    held.cancel()  # the client gives up, as on a timeout
    emulator.release()
    await emulator.wait_for(lambda: emulator.messages(ALERTS), timeout=5)
    assert [m.text for m in emulator.messages(ALERTS)] == ["held"]


async def test_slow_answers_on_demand_through_the_control_endpoint(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    async with aiohttp.ClientSession() as http:
        hang = {"seconds": 30, "method": "chat.postMessage", "delay": 0.3}
        async with http.post(f"{emulator.url}_emulator/hang", json=hang) as response:
            assert response.status == 200
        started = time.monotonic()
        await client.chat_postMessage(channel=ALERTS, text="slow")
        assert time.monotonic() - started >= 0.3
        await client.users_info(user="U0000DEP01")  # other methods are not held
        async with http.post(f"{emulator.url}_emulator/hang", json={"release": True}) as r:
            assert r.status == 200
        started = time.monotonic()
        await client.chat_postMessage(channel=ALERTS, text="fast")
        assert time.monotonic() - started < 0.3
        async with http.post(f"{emulator.url}_emulator/hang", json={"seconds": "x"}) as r:
            assert r.status == 400

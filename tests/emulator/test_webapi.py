"""The emulated Web API methods, driven by slack_sdk's real AsyncWebClient."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.emulator import SlackEmulator

ALERTS = "C0000ALERT"
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*High error rate*"}}


async def api_error(call: Awaitable[Any]) -> str:
    """The Slack error word of a call that must fail."""
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


async def test_auth_test_reports_the_bot_identity(client: AsyncWebClient) -> None:
    res = await client.auth_test()
    assert res["ok"] is True
    assert res["user_id"] == "U0BOT00001"
    assert res["bot_id"] == "B0BOT00001"
    assert res["team_id"] and res["url"].startswith("https://")


async def test_post_message_stores_and_answers_like_slack(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    res = await client.chat_postMessage(channel=ALERTS, text="fallback", blocks=[SECTION])
    assert res["channel"] == ALERTS
    assert res["message"]["blocks"] == [SECTION]
    assert res["message"]["bot_id"] == "B0BOT00001"
    [stored] = emulator.messages(ALERTS)
    assert stored.ts == res["ts"]
    assert (stored.text, stored.blocks, stored.user) == ("fallback", [SECTION], "U0BOT00001")
    seconds, micros = res["ts"].split(".")
    assert seconds.isdigit() and len(micros) == 6


async def test_ts_values_are_unique_and_increasing(client: AsyncWebClient) -> None:
    stamps = [(await client.chat_postMessage(channel=ALERTS, text=f"m{i}"))["ts"] for i in range(5)]
    assert len(set(stamps)) == 5
    assert stamps == sorted(stamps, key=lambda ts: tuple(int(p) for p in ts.split(".")))


async def test_thread_replies_are_kept_apart_from_top_level(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    parent = await client.chat_postMessage(channel=ALERTS, text="alert")
    await client.chat_postMessage(channel=ALERTS, text="step 1", thread_ts=parent["ts"])
    await client.chat_postMessage(channel=ALERTS, text="step 2", thread_ts=parent["ts"])
    assert [m.text for m in emulator.messages(ALERTS)] == ["alert"]
    replies = emulator.replies(ALERTS, parent["ts"])
    assert [r.text for r in replies] == ["step 1", "step 2"]
    assert all(not r.thread_missing for r in replies)


async def test_reply_to_unknown_thread_is_posted_but_flagged(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    res = await client.chat_postMessage(channel=ALERTS, text="lost", thread_ts="1600000000.000100")
    assert res["ok"] is True
    [reply] = emulator.replies(ALERTS, "1600000000.000100")
    assert reply.thread_missing is True


async def test_update_keeps_every_version(client: AsyncWebClient, emulator: SlackEmulator) -> None:
    posted = await client.chat_postMessage(channel=ALERTS, text="Firing", blocks=[SECTION])
    resolved = {"type": "section", "text": {"type": "mrkdwn", "text": "Resolved"}}
    res = await client.chat_update(
        channel=ALERTS, ts=posted["ts"], text="Resolved", blocks=[resolved]
    )
    assert (res["ts"], res["text"]) == (posted["ts"], "Resolved")
    message = emulator.message(ALERTS, posted["ts"])
    assert message is not None
    assert [v.text for v in message.versions] == ["Firing", "Resolved"]
    assert [v.blocks for v in message.updates] == [[resolved]]
    assert message.blocks == [resolved]


async def test_update_without_blocks_keeps_them_and_empty_list_clears(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    ts = (await client.chat_postMessage(channel=ALERTS, text="a", blocks=[SECTION]))["ts"]
    await client.chat_update(channel=ALERTS, ts=ts, text="b")
    message = emulator.message(ALERTS, ts)
    assert message is not None and message.blocks == [SECTION]
    await client.chat_update(channel=ALERTS, ts=ts, text="c", blocks=[])
    assert message.blocks == [] and message.text == "c"


async def test_update_of_unknown_message(client: AsyncWebClient) -> None:
    call = client.chat_update(channel=ALERTS, ts="1.000100", text="x")
    assert await api_error(call) == "message_not_found"


async def test_unknown_channel(client: AsyncWebClient) -> None:
    assert await api_error(client.chat_postMessage(channel="C404", text="x")) == "channel_not_found"
    assert await api_error(client.conversations_info(channel="C404")) == "channel_not_found"


async def test_ephemeral_is_recorded_for_its_user(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    res = await client.chat_postEphemeral(channel=ALERTS, user="U0000DEP01", text="only you")
    assert res["message_ts"]
    [eph] = emulator.ephemerals
    assert (eph.channel, eph.ephemeral_user, eph.text) == (ALERTS, "U0000DEP01", "only you")
    assert emulator.messages(ALERTS) == []
    call = client.chat_postEphemeral(channel=ALERTS, user="U404", text="x")
    assert await api_error(call) == "user_not_in_channel"


async def test_reactions(client: AsyncWebClient, emulator: SlackEmulator) -> None:
    ts = (await client.chat_postMessage(channel=ALERTS, text="approve?"))["ts"]
    await client.reactions_add(channel=ALERTS, timestamp=ts, name="eyes")
    message = emulator.message(ALERTS, ts)
    assert message is not None and message.reactions == {"eyes": ["U0BOT00001"]}
    again = client.reactions_add(channel=ALERTS, timestamp=ts, name="eyes")
    assert await api_error(again) == "already_reacted"
    for bad in (":eyes:", "two words"):
        assert await api_error(client.reactions_add(channel=ALERTS, timestamp=ts, name=bad)) == (
            "invalid_name"
        )
    missing = client.reactions_add(channel=ALERTS, timestamp="1.000100", name="eyes")
    assert await api_error(missing) == "message_not_found"


async def test_users_usergroups_and_conversations(client: AsyncWebClient) -> None:
    user = (await client.users_info(user="U0000DEP01"))["user"]
    assert user["name"] == "dana" and user["is_bot"] is False and user["deleted"] is False
    assert user["profile"]["email"] == "dana@example.com"
    assert user["team_id"] and user["tz"] and user["profile"]["real_name"] == user["real_name"]
    assert await api_error(client.users_info(user="U404")) == "user_not_found"

    group = await client.usergroups_users_list(usergroup="S0000ONCAL")
    assert group["users"] == ["U0000ONC01", "U0000APR01"]
    assert await api_error(client.usergroups_users_list(usergroup="S404")) == "no_such_subteam"

    channel = (await client.conversations_info(channel="C0000PAYMT"))["channel"]
    assert channel == channel | {
        "id": "C0000PAYMT",
        "name": "payments-alerts",
        "is_channel": True,
        "is_private": False,
        "is_member": True,
    }


async def test_permalink(client: AsyncWebClient) -> None:
    parent = (await client.chat_postMessage(channel=ALERTS, text="a"))["ts"]
    reply = (await client.chat_postMessage(channel=ALERTS, text="b", thread_ts=parent))["ts"]
    link = (await client.chat_getPermalink(channel=ALERTS, message_ts=parent))["permalink"]
    assert link.endswith(f"/archives/{ALERTS}/p{parent.replace('.', '')}")
    reply_link = (await client.chat_getPermalink(channel=ALERTS, message_ts=reply))["permalink"]
    assert f"thread_ts={parent}" in reply_link
    bad = client.chat_getPermalink(channel=ALERTS, message_ts="1.000100")
    assert await api_error(bad) == "message_not_found"


async def test_unknown_method(client: AsyncWebClient) -> None:
    assert await api_error(client.api_call("chat.scheduleMessage")) == "unknown_method"


async def test_auth_errors(emulator: SlackEmulator) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=emulator.base_url)
    assert await api_error(wrong.auth_test()) == "invalid_auth"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{emulator.base_url}auth.test") as res:
            assert res.status == 200
            assert await res.json() == {"ok": False, "error": "not_authed"}
    assert [c.response["error"] for c in emulator.calls("auth.test")] == [
        "invalid_auth",
        "not_authed",
    ]


async def test_form_encoded_call_with_token_argument(emulator: SlackEmulator) -> None:
    form = {
        "token": emulator.token,
        "channel": ALERTS,
        "text": "from a form",
        "blocks": json.dumps([SECTION]),
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{emulator.base_url}chat.postMessage", data=form) as res:
            body = await res.json()
    assert body["ok"] is True
    [call] = emulator.calls("chat.postMessage")
    # Recorded with blocks parsed and without the token.
    assert call.args == {"channel": ALERTS, "text": "from a form", "blocks": [SECTION]}
    assert emulator.messages(ALERTS)[0].blocks == [SECTION]


async def test_broken_json_body(emulator: SlackEmulator) -> None:
    headers = {"Authorization": f"Bearer {emulator.token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.base_url}chat.postMessage"
        async with session.post(url, data=b"{not json", headers=headers) as res:
            assert (await res.json())["error"] == "invalid_json"


async def test_calls_are_recorded_with_the_injected_clock(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    await client.chat_postMessage(channel=ALERTS, text="x")
    await client.users_info(user="U0000DEP01")
    calls = emulator.calls()
    assert [c.method for c in calls] == ["chat.postMessage", "users.info"]
    assert all(c.status == 200 and c.ok for c in calls)
    assert calls[0].at == 1000.0
    assert calls[1].args == {"user": "U0000DEP01"}


async def test_on_event_sees_posts_updates_and_ephemerals(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    seen: list[tuple[str, str]] = []
    emulator.on_event = lambda kind, message: seen.append((kind, message.text))
    ts = (await client.chat_postMessage(channel=ALERTS, text="one"))["ts"]
    await client.chat_update(channel=ALERTS, ts=ts, text="two")
    await client.chat_postEphemeral(channel=ALERTS, user="U0000OUT01", text="three")
    assert seen == [("post", "one"), ("update", "two"), ("ephemeral", "three")]


async def test_a_failing_hook_does_not_fail_the_call(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    def broken(kind: str, message: object) -> None:
        raise RuntimeError("printer on fire")

    emulator.on_event = broken
    assert (await client.chat_postMessage(channel=ALERTS, text="x"))["ok"] is True

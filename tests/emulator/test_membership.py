"""The emulator keeps to Slack's membership and response_url rules (issue 23, point 2):
response_urls work where the bot is not a member, for 30 minutes of the emulator's clock
and five uses; chat.postEphemeral outside the bot's conversations is `channel_not_found`;
conversations.open gives the app's DM, which the bot may post in."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.emulator import SlackEmulator
from tests.emulator.conftest import FakeBot, FakeTime
from tests.emulator.test_driver import form, post_json

DM = "D0000DMDAN"  # default workspace: a DM of two people, the bot not in it
PRIVATE = "C0000PRIVT"  # default workspace: a private channel the bot is not in
DANA = "U0000DEP01"


@pytest.mark.parametrize("where", [DM, PRIVATE])
async def test_a_response_url_answers_where_the_bot_is_not_until_30_minutes_pass(
    emulator: SlackEmulator, bot: FakeBot, fake_time: FakeTime, where: str
) -> None:
    await emulator.send_command("/deploy", "help", user=DANA, channel=where)
    url = form(bot.received[0])["response_url"]
    assert await post_json(url, {"text": "first"}) == (200, {"ok": True})
    [answer] = emulator.ephemerals
    assert (answer.channel, answer.ephemeral_user, answer.text) == (where, DANA, "first")

    fake_time.advance(30 * 60 - 1)
    assert (await post_json(url, {"text": "in time"}))[0] == 200
    fake_time.advance(2)
    status, body = await post_json(url, {"text": "late"})
    assert (status, body["error"]) == (404, "expired_url")
    assert [m.text for m in emulator.ephemerals] == ["first", "in time"]


@pytest.mark.parametrize("where", [DM, PRIVATE])
async def test_ephemerals_and_info_outside_the_bots_conversations_are_channel_not_found(
    emulator: SlackEmulator, client: AsyncWebClient, where: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postEphemeral(channel=where, user=DANA, text="x")
    assert refused.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as hidden:
        await client.conversations_info(channel=where)
    assert hidden.value.response["error"] == "channel_not_found"
    assert emulator.ephemerals == []
    # Where the bot is a member, both work as before.
    await client.chat_postEphemeral(channel="C0000DEPLY", user=DANA, text="y")
    info = await client.conversations_info(channel="C0000DEPLY")
    assert info["channel"]["is_member"] is True


async def test_conversations_open_gives_the_apps_dm_which_the_bot_is_in(
    emulator: SlackEmulator, client: AsyncWebClient
) -> None:
    opened = await client.conversations_open(users=DANA)
    dm = opened["channel"]["id"]
    assert dm.startswith("D") and dm not in (DM,)
    assert (await client.conversations_open(users=DANA))["channel"]["id"] == dm  # the same
    info = (await client.conversations_info(channel=dm))["channel"]
    assert info["is_im"] is True and info["user"] == DANA
    await client.chat_postMessage(channel=dm, text="hello")
    assert [m.text for m in emulator.messages(dm)] == ["hello"]
    with pytest.raises(SlackApiError) as unknown:
        await client.conversations_open(users="U0NOBODY00")
    assert unknown.value.response["error"] == "user_not_found"

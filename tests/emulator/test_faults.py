"""Slack saying "not now": rate limits, injected failures and outages."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.emulator import SlackEmulator
from tests.emulator.conftest import FakeTime

ALERTS = "C0000ALERT"
DEPLOYS = "C0000DEPLY"


async def post(client: AsyncWebClient, channel: str = ALERTS) -> SlackApiError | None:
    try:
        await client.chat_postMessage(channel=channel, text="x")
    except SlackApiError as exc:
        return exc
    return None


async def test_rate_limit_allows_a_burst_then_answers_429(
    client: AsyncWebClient, emulator: SlackEmulator, fake_time: FakeTime
) -> None:
    emulator.rate_limit = True
    assert [await post(client) for _ in range(3)] == [None, None, None]
    limited = await post(client)
    assert limited is not None
    assert limited.response.status_code == 429
    assert limited.response.headers["Retry-After"] == "1"
    assert limited.response["error"] == "ratelimited"
    assert len(emulator.messages(ALERTS)) == 3
    assert emulator.calls("chat.postMessage")[-1].status == 429

    # The limit is per channel: another channel still has its burst.
    assert await post(client, DEPLOYS) is None

    fake_time.advance(1.0)
    assert await post(client) is None
    assert await post(client) is not None


async def test_chat_update_has_one_workspace_wide_tier_3_bucket(
    client: AsyncWebClient, emulator: SlackEmulator, fake_time: FakeTime
) -> None:
    ts = {c: (await client.chat_postMessage(channel=c, text="x"))["ts"] for c in (ALERTS, DEPLOYS)}
    emulator.rate_limit = True

    async def update(channel: str) -> SlackApiError | None:
        try:
            await client.chat_update(channel=channel, ts=ts[channel], text="y")
        except SlackApiError as exc:
            return exc
        return None

    # 20 at once, spread over two channels: the burst is the workspace's, not a channel's.
    assert [await update((ALERTS, DEPLOYS)[n % 2]) for n in range(20)] == [None] * 20
    limited = await update(DEPLOYS)
    assert limited is not None and limited.response.status_code == 429
    assert limited.response.headers["Retry-After"] == "2"  # 50 a minute: 1.2 s a token
    assert await post(client) is None  # posting is limited per channel, not by updates
    fake_time.advance(1.25)
    assert await update(ALERTS) is None
    assert await update(ALERTS) is not None


async def test_rate_limit_is_off_by_default_and_not_for_other_methods(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    assert [await post(client) for _ in range(10)] == [None] * 10
    ts = (await client.chat_postMessage(channel=ALERTS, text="x"))["ts"]
    for _ in range(30):
        await client.chat_update(channel=ALERTS, ts=ts, text="y")
    emulator.rate_limit = True
    for _ in range(5):
        assert (await client.users_info(user="U0000DEP01"))["ok"] is True


async def test_fail_next_fails_the_given_number_of_calls(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    emulator.fail_next("chat.postMessage", status=500, times=2)
    first, second = await post(client), await post(client)
    assert first is not None and second is not None
    assert first.response.status_code == 500 and first.response["error"] == "fatal_error"
    assert await post(client) is None
    assert len(emulator.messages(ALERTS)) == 1
    # Other methods are untouched.
    assert [c.status for c in emulator.calls()] == [500, 500, 200]


async def test_fail_next_with_retry_after_and_a_custom_error(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    emulator.fail_next("chat.update", status=429, retry_after=7)
    emulator.fail_next("chat.update", status=200, error="edit_window_closed")
    ts = (await client.chat_postMessage(channel=ALERTS, text="x"))["ts"]
    with pytest.raises(SlackApiError) as limited:
        await client.chat_update(channel=ALERTS, ts=ts, text="y")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"
    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel=ALERTS, ts=ts, text="y")
    assert refused.value.response.status_code == 200
    assert refused.value.response["error"] == "edit_window_closed"
    assert (await client.chat_update(channel=ALERTS, ts=ts, text="y"))["ok"] is True


async def test_down_answers_503_to_everything_until_back(
    client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    emulator.down = True
    outage = await post(client)
    assert outage is not None and outage.response.status_code == 503
    with pytest.raises(SlackApiError) as info:
        await client.auth_test()
    assert info.value.response.status_code == 503
    assert emulator.messages(ALERTS) == []
    emulator.down = False
    assert await post(client) is None
    assert [c.status for c in emulator.calls()] == [503, 503, 200]


def test_fail_next_needs_a_positive_count() -> None:
    with pytest.raises(ValueError):
        SlackEmulator().fail_next("chat.postMessage", times=0)

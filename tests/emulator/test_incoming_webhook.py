"""Slack's incoming-webhook endpoint (`POST /services/...`), as Alertmanager's own
`slack_configs` receiver uses it: plain-text answers, channel override, rate limit."""

from __future__ import annotations

import aiohttp

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.incoming_webhook import METHOD
from tests.emulator.conftest import FakeTime

HOOK = "services/T0SANDBOX1/B0HOOK0001/secret"

# What Alertmanager 0.25's slack notifier sends: no token, attachments, no top-level text.
ALERTMANAGER_PAYLOAD = {
    "channel": "#alerts",
    "username": "alertmanager",
    "attachments": [
        {
            "title": "[FIRING:2] HighLatency api",
            "text": "latency above 1s",
            "fallback": "[FIRING:2] HighLatency api | http://alertmanager:9093",
            "color": "danger",
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }
    ],
}


async def post(emulator: SlackEmulator, body: object) -> tuple[int, str, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emulator.url}{HOOK}", json=body) as response,
    ):
        return response.status, await response.text(), dict(response.headers)


async def test_a_payload_posts_to_its_channel_and_is_answered_ok(
    emulator: SlackEmulator,
) -> None:
    status, text, _ = await post(emulator, ALERTMANAGER_PAYLOAD)

    assert (status, text) == (200, "ok")
    [message] = emulator.messages("C0000ALERT")
    assert message.attachments[0]["title"] == "[FIRING:2] HighLatency api"
    [call] = emulator.calls(METHOD)
    assert call.ok and call.args["channel"] == "C0000ALERT"
    assert call.args["username"] == "alertmanager"
    assert emulator.incoming_webhooks.counts() == {"C0000ALERT": 1}


async def test_channel_by_id_and_default_channel(emulator: SlackEmulator) -> None:
    assert (await post(emulator, {"channel": "C0000INCID", "text": "by id"}))[0] == 200
    emulator.incoming_webhooks.default_channel = "C0000DEPLY"
    assert (await post(emulator, {"text": "to the hook's channel"}))[0] == 200

    assert [m.text for m in emulator.messages("C0000INCID")] == ["by id"]
    assert [m.text for m in emulator.messages("C0000DEPLY")] == ["to the hook's channel"]


async def test_errors_are_plain_text_words(emulator: SlackEmulator) -> None:
    assert (await post(emulator, {"channel": "#nowhere", "text": "x"}))[:2] == (
        404,
        "channel_not_found",
    )
    assert (await post(emulator, {"text": "no channel, no default"}))[:2] == (
        404,
        "channel_not_found",
    )
    assert (await post(emulator, {"channel": "#alerts"}))[:2] == (400, "no_text")
    assert (await post(emulator, ["not", "an", "object"]))[:2] == (400, "invalid_payload")
    assert emulator.messages("C0000ALERT") == []
    assert [c.status for c in emulator.calls(METHOD)] == [404, 404, 400, 400]


async def test_rate_limit_answers_429_with_retry_after_per_channel(
    emulator: SlackEmulator, fake_time: FakeTime
) -> None:
    emulator.rate_limit = True
    answers = [await post(emulator, ALERTMANAGER_PAYLOAD) for _ in range(4)]

    assert [a[0] for a in answers] == [200, 200, 200, 429]
    assert answers[3][1] == "rate_limited"
    assert answers[3][2]["Retry-After"] == "1"
    # Another channel has its own bucket.
    assert (await post(emulator, {"channel": "#incidents", "text": "P0"}))[0] == 200
    fake_time.advance(1)
    assert (await post(emulator, ALERTMANAGER_PAYLOAD))[0] == 200
    assert len(emulator.messages("C0000ALERT")) == 4
    assert emulator.incoming_webhooks.counts() == {"C0000ALERT": 5, "C0000INCID": 1}


async def test_the_web_api_without_a_token_still_says_not_authed(
    emulator: SlackEmulator,
) -> None:
    # Alertmanager pointed at /api/chat.postMessage would be told 200 not_authed and
    # count that as delivered; the webhook endpoint is the one that posts.
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emulator.base_url}chat.postMessage", json=ALERTMANAGER_PAYLOAD) as r,
    ):
        assert r.status == 200
        assert (await r.json())["error"] == "not_authed"
    assert emulator.messages("C0000ALERT") == []


async def test_down_answers_503(emulator: SlackEmulator) -> None:
    emulator.down = True
    assert (await post(emulator, ALERTMANAGER_PAYLOAD))[:2] == (503, "service_unavailable")

"""Slack's message limits: every rule the emulator enforces, one failing case each."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.blocks import validate_blocks
from bot.sandbox.emulator import SlackEmulator

ALERTS = "C0000ALERT"


def section(text: str = "x") -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def field(text: str = "x") -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def button(action_id: str, text: str = "Go") -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": text}}


INVALID: dict[str, tuple[list[Any], str]] = {
    "more than 50 blocks": ([section()] * 51, "/blocks"),
    "section text over 3000": ([section("a" * 3001)], "/blocks/0/text/text"),
    "section field over 2000": (
        [{"type": "section", "fields": [field("a" * 2001)]}],
        "/blocks/0/fields/0/text",
    ),
    "more than 10 fields": ([{"type": "section", "fields": [field()] * 11}], "/blocks/0/fields"),
    "header over 150": (
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        "/blocks/0/text/text",
    ),
    "header in mrkdwn": (
        [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}],
        "/blocks/0/text/type",
    ),
    "more than 25 actions": (
        [{"type": "actions", "elements": [button(f"a{i}") for i in range(26)]}],
        "/blocks/0/elements",
    ),
    "unknown block type": ([{"type": "sparkles"}], "/blocks/0/type"),
    "block without type": ([{"text": "x"}], "/blocks/0/type"),
    "block not an object": (["section"], "/blocks/0"),
    "section without text or fields": ([{"type": "section"}], "/blocks/0"),
    "empty section text": ([section("")], "/blocks/0/text/text"),
    "duplicate block_id": (
        [section() | {"block_id": "b"}, section() | {"block_id": "b"}],
        "/blocks/1/block_id",
    ),
    "duplicate action_id in a block": (
        [{"type": "actions", "elements": [button("ack"), button("ack")]}],
        "/blocks/0/elements/1/action_id",
    ),
    "button label over 75": (
        [{"type": "actions", "elements": [button("ack", "b" * 76)]}],
        "/blocks/0/elements/0/text/text",
    ),
    "empty actions": ([{"type": "actions", "elements": []}], "/blocks/0/elements"),
}


@pytest.mark.parametrize("name", list(INVALID))
async def test_invalid_blocks_are_rejected_with_a_pointer(
    name: str, client: AsyncWebClient, emulator: SlackEmulator
) -> None:
    blocks, pointer = INVALID[name]
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=ALERTS, text="fallback", blocks=blocks)
    body = info.value.response.data
    assert isinstance(body, dict)
    assert body["error"] == "invalid_blocks"
    assert any(e.endswith(f"[json-pointer:{pointer}]") for e in body["errors"]), body["errors"]
    assert body["response_metadata"]["messages"]
    assert emulator.messages(ALERTS) == []


async def test_blocks_at_the_limits_are_accepted(client: AsyncWebClient) -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        section("a" * 3000),
        {"type": "section", "fields": [field("f" * 2000)] * 10},
        {"type": "actions", "elements": [button(f"a{i}") for i in range(25)]},
        {"type": "context", "elements": [field("ctx")]},
        {"type": "divider"},
    ]
    blocks += [{"type": "divider"}] * (50 - len(blocks))
    res = await client.chat_postMessage(channel=ALERTS, text="fallback", blocks=blocks)
    assert res["ok"] is True


async def test_update_is_validated_too(client: AsyncWebClient, emulator: SlackEmulator) -> None:
    ts = (await client.chat_postMessage(channel=ALERTS, text="ok"))["ts"]
    with pytest.raises(SlackApiError) as info:
        await client.chat_update(channel=ALERTS, ts=ts, text="y", blocks=[section("a" * 3001)])
    assert info.value.response["error"] == "invalid_blocks"
    message = emulator.message(ALERTS, ts)
    assert message is not None and len(message.versions) == 1


async def test_no_text(client: AsyncWebClient) -> None:
    # slack_sdk warns before sending; Slack (and the emulator) then refuse.
    with pytest.raises(SlackApiError) as info, pytest.warns(UserWarning, match="text"):
        await client.chat_postMessage(channel=ALERTS, text="")
    assert info.value.response["error"] == "no_text"


async def test_msg_too_long(client: AsyncWebClient) -> None:
    assert (await client.chat_postMessage(channel=ALERTS, text="a" * 40_000))["ok"]
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=ALERTS, text="a" * 40_001)
    assert info.value.response["error"] == "msg_too_long"


@pytest.mark.parametrize("blocks", ["not json", '{"type": "section"}'])
async def test_blocks_that_are_not_a_json_array(emulator: SlackEmulator, blocks: str) -> None:
    form = {"channel": ALERTS, "text": "x", "blocks": blocks}
    headers = {"Authorization": f"Bearer {emulator.token}"}
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.base_url}chat.postMessage"
        async with session.post(url, data=form, headers=headers) as res:
            assert (await res.json())["error"] == "invalid_blocks_format"


def test_validator_reports_every_problem_at_once() -> None:
    errors = validate_blocks([section("a" * 3001), {"type": "nope"}])
    assert len(errors) == 2
    assert errors[0] == "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"

"""Posting to the bot's webhook and reading what reached the Slack emulator."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.conftest import WEBHOOK_TOKEN, RunningService

AUTH = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}


async def post_json(bot: RunningService, payload: object) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{bot.url}/webhooks/alertmanager",
            data=json.dumps(payload),
            headers={**AUTH, "Content-Type": "application/json"},
        ) as response,
    ):
        body: dict[str, Any] = await response.json(content_type=None)
        return response.status, body


def button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any] | None:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return dict(element)
    return None

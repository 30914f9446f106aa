"""Event types PagerDuty (or whoever holds the secret) invents are answered 2xx and counted
under one `other` label: 10,000 distinct unknown types make one metric series, not 10,000.

A few go over HTTP; the 10,000 are handed to the webhook's handler directly, since ten
thousand loopback round trips take ten seconds and say nothing more about the labels."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from multidict import CIMultiDict

from bot.pagerduty import webhook
from bot.pagerduty.signature import sign
from tests.escalation.conftest import WEBHOOK_SECRET, Bot

TYPES = 10_000


def signed(index: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"event": {"id": f"01UNKNOWN{index:08d}", "event_type": f"vendor.type_{index}"}}
    ).encode()
    return body, {
        "Content-Type": "application/json",
        "X-PagerDuty-Signature": sign(body, WEBHOOK_SECRET),
    }


class Body:
    """The request's body stream, as aiohttp's StreamReader hands it out."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def iter_chunked(self, _size: int) -> AsyncIterator[bytes]:
        yield self.body


class Delivery:
    """What the handler reads of an aiohttp request: headers, the body's length and its
    stream (bot/http/bodies.py), and the app's settings (none: the defaults)."""

    def __init__(self, body: bytes, headers: dict[str, str]) -> None:
        self.body, self.headers = body, CIMultiDict(headers)
        self.content_length = len(body)
        self.content = Body(body)
        self.app: dict[str, Any] = {}

    async def read(self) -> bytes:
        return self.body


async def test_ten_thousand_unknown_event_types_are_one_series(sqlite_url: str, start_bot) -> None:
    bot: Bot = await start_bot(sqlite_url)
    url = f"{bot.url}/webhooks/pagerduty"
    async with aiohttp.ClientSession() as http:

        async def send(index: int) -> int:
            body, headers = signed(index)
            async with http.post(url, data=body, headers=headers) as response:
                return response.status

        statuses = await asyncio.gather(*(send(i) for i in range(10)))
    handle = webhook.handler(bot.service)
    for index in range(10, TYPES):
        request: Any = Delivery(*signed(index))
        statuses.append((await handle(request)).status)

    assert set(statuses) == {200}  # 2xx: PagerDuty disables a hook after repeated 4xx
    metrics = await bot.metrics()
    series = [line for line in metrics.splitlines() if line.startswith("chatops_pagerduty_unknown")]
    assert series == [
        f'chatops_pagerduty_unknown_events_total{{event_type="other"}} {float(TYPES)}',
        'chatops_pagerduty_unknown_events_created{event_type="other"} '
        + series[1].rsplit(" ", 1)[-1],
    ]
    assert "vendor.type_" not in metrics

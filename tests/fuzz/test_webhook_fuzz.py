"""Random and mutated bodies at the HTTP edge: only clear 2xx/4xx answers, never a 500."""

from __future__ import annotations

import json
import random
from typing import Any

import aiohttp
from sqlalchemy import select

from bot.storage.models import WebhookDelivery
from tests.conftest import WEBHOOK_TOKEN, StartService
from tests.support.payloads import notification

AUTH = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    10**30,
    1.5,
    "",
    "x" * 5000,
    [],
    {},
    [1],
    {"a": 1},
    "\u0000",
    "²",
]


def mutations(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    bodies: list[bytes] = [b"", b"\xff\xfe", b"[]", b"null", b"{", b'{"version": "4"}']
    for _ in range(count):
        payload = notification(alerts=rng.randint(0, 3))
        target: dict[str, Any] = payload
        if payload["alerts"] and rng.random() < 0.5:
            target = rng.choice(payload["alerts"])
        key = rng.choice([*target.keys(), "extra"])
        if rng.random() < 0.2:
            target.pop(key, None)
        else:
            target[key] = rng.choice(ODD_VALUES)
        bodies.append(json.dumps(payload).encode())
    return bodies


async def test_no_body_makes_the_webhook_answer_500(
    sqlite_url: str, start_service: StartService
) -> None:
    bot = await start_service(sqlite_url)
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession() as http:
        for body in mutations(seed=7, count=300):
            async with http.post(
                f"{bot.url}/webhooks/alertmanager", data=body, headers=AUTH
            ) as response:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.status >= 400:
                    assert (await response.json())["error"]
    await bot.settle()  # whatever was accepted must also process without error
    async with bot.service.sessions() as session:
        states = (await session.scalars(select(WebhookDelivery.state))).all()
    assert states and set(states) == {"done"}
    assert set(statuses) <= {200, 400}, statuses
    assert statuses.get(400, 0) > 50 and statuses.get(200, 0) > 10

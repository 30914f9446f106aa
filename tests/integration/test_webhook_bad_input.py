"""Bad webhook input gets a clear answer and changes nothing."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.config import Config
from bot.http.config import HttpConfig
from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import WebhookDelivery
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService
from tests.support.payloads import notification


async def send(bot: RunningService, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{bot.url}/webhooks/alertmanager",
            data=body,
            headers={"Content-Type": "application/json", **headers},
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def stored(bot: RunningService) -> int:
    async with bot.service.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


GOOD = json.dumps(notification()).encode()
BEARER = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic " + base64.b64encode(b"am:wrong").decode()},
        {"Authorization": WEBHOOK_TOKEN},
    ],
)
async def test_missing_or_wrong_token_is_401(
    sqlite_url: str, start_service: StartService, headers: dict[str, str]
) -> None:
    bot = await start_service(sqlite_url)
    status, body = await send(bot, GOOD, headers)
    assert status == 401 and "token" in body["error"]
    assert await stored(bot) == 0


async def test_basic_auth_password_is_accepted(
    sqlite_url: str, start_service: StartService
) -> None:
    bot = await start_service(sqlite_url)
    auth = "Basic " + base64.b64encode(f"alertmanager:{WEBHOOK_TOKEN}".encode()).decode()
    status, _ = await send(bot, GOOD, {"Authorization": auth})
    assert status == 200 and await stored(bot) == 1


async def test_not_json_is_400(sqlite_url: str, start_service: StartService) -> None:
    bot = await start_service(sqlite_url)
    status, body = await send(bot, b"this is not json", BEARER)
    assert status == 400 and body["error"] == "body is not valid JSON"
    assert await stored(bot) == 0


async def test_wrong_shape_is_400_naming_the_field(
    sqlite_url: str, start_service: StartService
) -> None:
    bot = await start_service(sqlite_url)
    payload = notification()
    del payload["alerts"][0]["labels"]
    status, body = await send(bot, json.dumps(payload).encode(), BEARER)
    assert status == 400 and body["error"].startswith("alerts.0.labels")
    assert await stored(bot) == 0


async def test_body_over_http_max_body_is_413(
    sqlite_url: str, start_service: StartService, example_config: Config
) -> None:
    config = example_config.model_copy(update={"http": HttpConfig(max_body="512KiB")})
    bot = await start_service(sqlite_url, config=config)
    payload = notification(annotations={"description": "x" * (512 * 1024)})
    status, body = await send(bot, json.dumps(payload).encode(), BEARER)
    assert status == 413 and body["error"] == f"body over {512 * 1024} bytes"
    assert await stored(bot) == 0


async def test_empty_alerts_is_2xx_and_posts_nothing(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    payload = notification()
    payload["alerts"] = []
    status, body = await send(bot, json.dumps(payload).encode(), BEARER)
    assert status == 200 and body["status"] == "ignored"
    await bot.settle()
    assert emulator.calls("chat.postMessage") == []


async def test_a_permanent_slack_error_is_kept_and_counted(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    emulator.fail_next("chat.postMessage", status=200, error="channel_not_found")
    status, _ = await send(bot, GOOD, BEARER)
    assert status == 200
    await bot.settle()
    from bot.storage.models import OutboxEntry

    async with bot.service.sessions() as session:
        [entry] = (await session.scalars(select(OutboxEntry))).all()
    assert entry.state == "failed" and entry.last_error == "channel_not_found"
    async with aiohttp.ClientSession() as http, http.get(f"{bot.url}/metrics") as response:
        assert "chatops_outbox_failed 1.0" in await response.text()

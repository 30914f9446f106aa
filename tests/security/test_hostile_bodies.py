"""Hostile webhook bodies get a clear 4xx and change nothing: nesting, content types,
and basic auth with the right password but another username."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import WebhookDelivery
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService
from tests.support.payloads import notification

PD_SECRET = "pd-webhook-secret"
BEARER = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
JSON = {"Content-Type": "application/json"}


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def under_alerts(depth: int) -> bytes:
    """A valid-looking notification whose one label value nests `depth` arrays deep."""
    body = json.dumps(notification()).encode()
    return body.replace(b'"warning"', nested(depth), 1)


def pd_signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(PD_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-PagerDuty-Signature": f"v1={digest}", **JSON}


async def post(bot: RunningService, path: str, body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{bot.url}{path}", data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


async def stored(bot: RunningService) -> int:
    async with bot.service.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


@pytest.mark.parametrize("body", [nested(100_000), nested(900), under_alerts(200)])
async def test_deep_nesting_is_a_400_on_the_alertmanager_webhook(
    sqlite_url: str, start_service: StartService, body: bytes
) -> None:
    bot = await start_service(sqlite_url)
    status, text = await post(bot, "/webhooks/alertmanager", body, {**BEARER, **JSON})
    assert status == 400 and "nests deeper than 32 levels" in text
    assert await stored(bot) == 0


@pytest.mark.parametrize("body", [nested(100_000), nested(900)])
async def test_deep_nesting_is_a_400_on_the_pagerduty_webhook(
    sqlite_url: str, start_service: StartService, body: bytes
) -> None:
    bot = await start_service(sqlite_url, pagerduty_webhook_secret=SecretStr(PD_SECRET))
    status, text = await post(bot, "/webhooks/pagerduty", body, pd_signed(body))
    assert status == 400 and "nests deeper" in text


async def test_deep_nesting_is_a_400_on_slack_events_even_when_signed(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    event = b'{"type": "event_callback", "event": ' + nested(100_000) + b"}"
    unsigned = await emulator.send_raw(event, {}, "application/json")
    assert unsigned.status == 401
    response = await emulator.send_raw(event, emulator.sign(event), "application/json")
    assert response.status == 400 and "nests deeper" in response.text
    click = urlencode(
        {"payload": '{"type": "block_actions", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"}
    ).encode()
    response = await emulator.send_raw(
        click, emulator.sign(click), "application/x-www-form-urlencoded"
    )
    assert response.status == 400 and "nests deeper" in response.text
    await bot.settle()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream"]
)
async def test_a_json_webhook_refuses_other_content_types_with_415(
    sqlite_url: str, start_service: StartService, content_type: str
) -> None:
    bot = await start_service(sqlite_url, pagerduty_webhook_secret=SecretStr(PD_SECRET))
    body = json.dumps(notification()).encode()
    status, text = await post(
        bot, "/webhooks/alertmanager", body, {**BEARER, "Content-Type": content_type}
    )
    assert status == 415 and "Content-Type must be application/json" in text
    assert await stored(bot) == 0
    status, text = await post(
        bot, "/webhooks/pagerduty", body, {**pd_signed(body), "Content-Type": content_type}
    )
    assert status == 415 and "Content-Type must be application/json" in text


async def test_json_with_a_charset_is_accepted(
    sqlite_url: str, start_service: StartService
) -> None:
    bot = await start_service(sqlite_url)
    body = json.dumps(notification()).encode()
    headers = {**BEARER, "Content-Type": "application/json; charset=utf-8"}
    status, _ = await post(bot, "/webhooks/alertmanager", body, headers)
    assert status == 200 and await stored(bot) == 1


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", **JSON}


async def test_basic_auth_checks_the_username_too(
    sqlite_url: str, start_service: StartService
) -> None:
    bot = await start_service(sqlite_url, alertmanager_webhook_username="am-prod")
    body = json.dumps(notification()).encode()
    status, _ = await post(bot, "/webhooks/alertmanager", body, basic("intruder", WEBHOOK_TOKEN))
    assert status == 401 and await stored(bot) == 0
    status, _ = await post(bot, "/webhooks/alertmanager", body, basic("am-prod", WEBHOOK_TOKEN))
    assert status == 200 and await stored(bot) == 1

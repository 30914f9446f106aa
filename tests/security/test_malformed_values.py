"""Malformed values that used to be 500s: a Slack timestamp that is not a number (401, no
traceback) and non-finite numbers in JSON webhook bodies (400 on SQLite and PostgreSQL,
for Alertmanager's payload, Grafana's and PagerDuty's)."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import WebhookDelivery
from tests.conftest import StartService
from tests.security.test_hostile_bodies import BEARER, JSON, PD_SECRET, pd_signed, post
from tests.support.payloads import notification

NOT_FINITE = "NaN, Infinity or a number too large"


@pytest.mark.parametrize("timestamp", ["abc", "1e9", "", " 17", "١٢٣"])
async def test_a_slack_timestamp_that_is_not_a_number_is_401_without_a_traceback(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    caplog: pytest.LogCaptureFixture,
    timestamp: str,
) -> None:
    await start_service(sqlite_url)
    body = b'{"type": "event_callback", "event": {"type": "app_mention"}}'
    headers = {**emulator.sign(body), "X-Slack-Request-Timestamp": timestamp}
    response = await emulator.send_raw(body, headers, "application/json")
    assert response.status == 401
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def with_value(body: dict[str, object], value: str) -> bytes:
    """`body` as JSON with its first alert's `value` label replaced by a bare token."""
    text = json.dumps(body).replace('"warning"', value, 1)
    assert value in text
    return text.encode()


def grafana(body: dict[str, object]) -> dict[str, object]:
    return {**body, "version": "1", "orgId": 1, "state": "alerting", "title": "t", "message": "m"}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize("shape", ["alertmanager", "grafana"])
async def test_a_non_finite_number_in_a_webhook_body_is_a_400(
    database_url: str, start_service: StartService, value: str, shape: str
) -> None:
    bot = await start_service(database_url)
    payload = notification()
    body = with_value(grafana(payload) if shape == "grafana" else payload, value)
    status, text = await post(bot, "/webhooks/alertmanager", body, {**BEARER, **JSON})
    assert status == 400, text
    assert NOT_FINITE in json.loads(text)["error"]
    async with bot.service.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    # The same body with a finite number is accepted: only the value was wrong.
    status, _ = await post(
        bot, "/webhooks/alertmanager", with_value(payload, "1.5"), {**BEARER, **JSON}
    )
    assert status == 200


@pytest.mark.parametrize("value", ["NaN", "-Infinity", "1e999"])
async def test_a_non_finite_number_in_a_signed_pagerduty_webhook_is_a_400(
    database_url: str, start_service: StartService, value: str
) -> None:
    bot = await start_service(database_url, pagerduty_webhook_secret=SecretStr(PD_SECRET))
    body = (
        '{"event": {"id": "01", "event_type": "incident.acknowledged", "occurred_at": '
        '"2026-01-01T12:00:00Z", "data": {"id": "P1", "number": ' + value + "}}}"
    ).encode()
    status, text = await post(bot, "/webhooks/pagerduty", body, pd_signed(body))
    assert status == 400, text
    assert NOT_FINITE in text

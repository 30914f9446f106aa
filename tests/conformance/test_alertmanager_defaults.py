"""Alertmanager notifications that leave out what the bot can default, and what it cannot.

The base is a notification captured from Alertmanager 0.25 (tests/fixtures/); each test
changes one thing the way a real sender does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import Alert, WebhookDelivery
from tests.conformance.support import post_json
from tests.conftest import StartService

CAPTURED = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager-0.25-firing.json"


def captured() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CAPTURED.read_text())
    return data


async def test_a_zero_start_is_shown_with_the_time_of_receipt_and_said_so(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(database_url)
    payload = captured()
    for alert in payload["alerts"]:
        alert["startsAt"] = "0001-01-01T00:00:00Z"
    status, _ = await post_json(bot, payload)
    assert status == 200
    await bot.settle()

    [message] = emulator.messages("C0000ALERT")  # posted, not dropped after the 2xx
    assert "PostgresConnectionsSaturated" in json.dumps(message.blocks)
    assert "start time not sent" in json.dumps(message.blocks)
    [note] = emulator.replies("C0000ALERT", message.ts)
    assert "2 alert(s) came without a start time" in note.text
    assert "2026-01-01 12:00:00 UTC" in note.text  # the (fake) time of receipt
    async with bot.service.sessions() as session:
        [delivery] = (await session.scalars(select(WebhookDelivery))).all()
        starts = (await session.scalars(select(Alert.starts_at))).all()
    assert delivery.state == "done" and delivery.outcome == "new"
    assert {s.isoformat() for s in starts} == {"2026-01-01T12:00:00+00:00"}

    # Alertmanager repeats the group later: the first receipt stays the start, no news.
    bot.clock.advance(600)
    status, _ = await post_json(bot, payload)
    assert status == 200
    await bot.settle()
    async with bot.service.sessions() as session:
        outcomes = (
            await session.scalars(select(WebhookDelivery.outcome).order_by(WebhookDelivery.id))
        ).all()
        starts = (await session.scalars(select(Alert.starts_at))).all()
    assert outcomes == ["new", "duplicate"]
    assert {s.isoformat() for s in starts} == {"2026-01-01T12:00:00+00:00"}
    assert len(emulator.replies("C0000ALERT", message.ts)) == 1


async def test_missing_alert_status_and_numeric_labels_are_accepted(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    payload = captured()
    for alert in payload["alerts"]:
        del alert["status"]
        alert["labels"]["http_code"] = 503
    payload["someFutureField"] = {"x": 1}
    status, _ = await post_json(bot, payload)
    assert status == 200
    await bot.settle()
    [message] = emulator.messages("C0000ALERT")
    assert "FIRING" in json.dumps(message.blocks)


async def test_a_refusal_names_every_problem_and_stores_nothing(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    payload = captured()
    payload["status"] = "exploded"
    payload["alerts"][0]["startsAt"] = "yesterday"
    payload["alerts"][1]["labels"] = "alertname=x"
    status, body = await post_json(bot, payload)
    assert status == 400
    assert body["problems"] == [
        'status: must be firing or resolved, not "exploded"',
        'alerts.0.startsAt: must be an RFC 3339 time, not "yesterday"',
        "alerts.1.labels: must be an object of strings",
    ]
    assert all(problem in body["error"] for problem in body["problems"])
    async with bot.service.sessions() as session:
        assert (await session.scalars(select(WebhookDelivery))).all() == []


async def test_a_numeric_severity_label_is_read_as_text(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    payload = captured()
    for alert in payload["alerts"]:
        alert["labels"].pop("priority")
        alert["labels"]["severity"] = 2  # a sender that writes numbers
    payload["commonLabels"].pop("priority")
    payload["commonLabels"]["severity"] = 2
    status, _ = await post_json(bot, payload)
    assert status == 200
    await bot.settle()
    [message] = emulator.messages("C0000ALERT")
    assert "P2" in json.dumps(message.blocks)  # no severity mapped: the default priority

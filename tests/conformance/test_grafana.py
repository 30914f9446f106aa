"""Grafana alerting's webhook contact point, as its documentation shows the payload.

The samples in grafana/ are written from Grafana's documented shapes: version "1" with
`valueString` (Grafana 9) and the current one with `values` and `imageURL` (Grafana 10+),
firing and resolved. Each is answered 2xx and shown in Slack with what Grafana adds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import AlertGroup
from tests.conformance.support import post_json
from tests.conftest import StartService

SAMPLES = Path(__file__).resolve().parent / "grafana"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return data


def images(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["image_url"] for b in blocks if b["type"] == "image"]


async def test_current_grafana_payload_shows_values_links_and_image(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(database_url)
    status, body = await post_json(bot, sample("v11-values-image-firing"))
    assert status == 200 and body["status"] == "accepted"
    await bot.settle()

    [message] = emulator.messages("C0000ALERT")
    text = json.dumps(message.blocks)
    assert "CheckoutLatencyHigh" in text and "Checkout p95 latency above 2s" in text
    assert "B=2.438, C=1" in text  # the query values that fired
    assert "<https://grafana.example.com/d/checkout01?orgId=1|Dashboard>" in text
    assert "viewPanel=4|Panel>" in text
    assert "Silence in Grafana>" in text
    assert "Silence in Alertmanager" not in text  # Grafana has no Alertmanager silence page
    assert images(message.blocks) == [
        "https://grafana.example.com/public/img/attachments/checkout-latency.png"
    ]
    assert "via Grafana" in text
    async with bot.service.sessions() as session:
        [group] = (await session.scalars(select(AlertGroup))).all()
    assert group.source == "grafana"

    status, _ = await post_json(bot, sample("v11-values-resolved"))
    assert status == 200
    await bot.settle()
    assert len(emulator.messages("C0000ALERT")) == 1  # the same message, updated in place
    updated = emulator.message("C0000ALERT", message.ts)
    assert updated is not None
    assert "RESOLVED" in json.dumps(updated.blocks)
    assert "B=0.81, C=0" in json.dumps(updated.blocks)
    [reply] = emulator.replies("C0000ALERT", message.ts)
    assert "Resolved after 29m" in reply.text


async def test_grafana_9_payload_with_value_string_is_understood(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    status, _ = await post_json(bot, sample("v9-valuestring-firing"))
    assert status == 200
    await bot.settle()
    [message] = emulator.messages("C0000ALERT")
    text = json.dumps(message.blocks)
    assert "HighMemoryUsage" in text and "2 firing / 2" in text
    assert "var='B'" in text  # valueString, per alert
    assert "value=94.1" in text and "value=91.7" in text
    assert "Silence in Grafana>" in text
    assert images(message.blocks) == []


async def test_no_image_block_without_an_http_image(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    await post_json(bot, sample("v11-values-no-image-firing"))
    odd = sample("v11-values-image-firing")
    odd["alerts"][0]["imageURL"] = "javascript:alert(1)"
    odd["alerts"][0]["dashboardURL"] = "file:///etc/passwd"
    status, _ = await post_json(bot, odd)
    assert status == 200
    await bot.settle()
    messages = emulator.messages("C0000ALERT")
    assert len(messages) == 2
    for message in messages:
        text = json.dumps(message.blocks)
        assert images(message.blocks) == []
        assert "javascript:" not in text and "file://" not in text
        assert "|Dashboard>" not in text


async def test_grafana_state_stands_in_for_a_missing_status(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    payload = sample("v11-values-image-firing")
    payload.pop("status")
    payload["alerts"][0].pop("status")
    status, _ = await post_json(bot, payload)
    assert status == 200
    await bot.settle()
    [message] = emulator.messages("C0000ALERT")
    assert "FIRING" in json.dumps(message.blocks)

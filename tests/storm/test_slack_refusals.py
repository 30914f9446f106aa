"""What Slack refuses, through `chatops serve`: kept whole, or worked around.

A refusal's reasons (`errors`, `response_metadata.messages`, `warnings`) are what lets a
person fix the message that was lost: they are in the log, in `chatops slack failed` and
counted in /metrics. An image Slack cannot download costs the image, not the alert.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from alerts import messages as m
from bot.sandbox.emulator import Message, SlackEmulator
from bot.storage.models import OutboxEntry
from tests.conftest import WEBHOOK_TOKEN
from tests.storm.conftest import StartReplica, group_notification, post, storm_config, wait_until

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "tests" / "conformance" / "grafana" / "v11-values-image-firing.json"
TOO_LONG = "must be less than 3001 characters [json-pointer:/blocks/1/text/text]"
# Outside text: an escape sequence (clear the screen) inside Slack's answer.
HOSTILE = "[WARN] block 1 \x1b[2J rewritten [json-pointer:/blocks/1]"


async def outbox_rows(pg_url: str) -> list[dict[str, Any]]:
    engine = create_async_engine(pg_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(OutboxEntry.__table__))
            return [dict(r._mapping) for r in rows]
    finally:
        await engine.dispose()


async def wait_for_row(pg_url: str, state: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        rows = await outbox_rows(pg_url)
        found = [r for r in rows if r["state"] == state]
        if found:
            return found[0]
        assert time.monotonic() < deadline, rows
        await asyncio.sleep(0.1)


async def metrics(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        return await response.text()


async def test_an_invalid_blocks_refusal_is_logged_listed_and_counted_with_slacks_reasons(
    pg_url: str, start_replica: StartReplica, storm_emulator: SlackEmulator, tmp_path: Path
) -> None:
    replica = await start_replica(pg_url, storm_config(tmp_path, threshold=100_000))
    storm_emulator.fail_next(
        "chat.postMessage",
        status=200,
        error="invalid_blocks",
        body={
            "errors": [TOO_LONG],
            "response_metadata": {"messages": [f"[ERROR] {TOO_LONG}", HOSTILE]},
            "warnings": ["missing_charset"],
        },
    )
    async with aiohttp.ClientSession() as http:
        await post(http, replica.url, group_notification(1, alerts=1))
    failed = await wait_for_row(pg_url, "failed")
    assert failed["slack_error"]["errors"] == [TOO_LONG]
    assert failed["slack_error"]["messages"] == [f"[ERROR] {TOO_LONG}", HOSTILE]

    log = replica.log.read_text()
    [line] = [x for x in log.splitlines() if "Slack refused post" in x]
    assert "invalid_blocks" in line and TOO_LONG in line and f"[ERROR] {TOO_LONG}" in line
    assert "missing_charset" in line
    assert "\x1b" not in log  # the escape reached the log as text, not as an escape

    listed = (
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot", "slack", "failed", "--since", "1h"],
            cwd=tmp_path,
            env={"DATABASE_URL": pg_url, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    ).stdout
    assert "invalid_blocks" in listed and "chat.postMessage" in listed
    assert f"errors:   {TOO_LONG}" in listed
    assert f"messages: [ERROR] {TOO_LONG}" in listed
    assert "warnings: missing_charset" in listed
    assert "\x1b" not in listed and "\\x1b[2J" in listed

    figures = await metrics(replica.url)
    wanted = 'chatops_slack_refusals_total{error="invalid_blocks",method="chat.postMessage"} 1.0'
    assert wanted in figures


def grafana_with_image(url: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(GRAFANA.read_text())
    body["alerts"][0]["imageURL"] = url
    return body


def alert_message(emulator: SlackEmulator) -> Message | None:
    for channel in emulator.store.channels:
        for message in emulator.messages(channel):
            if "CheckoutLatencyHigh" in message.text:
                return message
    return None


async def test_an_image_slack_cannot_download_costs_the_image_not_the_alert(
    pg_url: str, start_replica: StartReplica, storm_emulator: SlackEmulator, tmp_path: Path
) -> None:
    replica = await start_replica(pg_url, storm_config(tmp_path, threshold=100_000))
    # An internal Grafana without an external image store: Slack cannot reach it.
    image = "http://grafana.monitoring.svc.cluster.local:3000/render/d-solo/checkout01?panelId=4"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{replica.url}/webhooks/alertmanager",
            data=json.dumps(grafana_with_image(image)),
            headers={
                "Authorization": f"Bearer {WEBHOOK_TOKEN}",
                "Content-Type": "application/json",
            },
        ) as response:
            assert response.status == 200
    message = await storm_emulator.wait_for(lambda: alert_message(storm_emulator), timeout=15)
    assert [b for b in message.blocks if b.get("type") == "image"] == []

    def noted() -> bool:
        replies = storm_emulator.replies(message.channel, message.ts)
        return any(m.IMAGE_UNAVAILABLE in r.text for r in replies)

    await wait_until(noted, 15, "the thread saying the image is unavailable")
    refused = [c for c in storm_emulator.calls("chat.postMessage") if not c.response.get("ok")]
    [refusal] = refused
    [error] = refusal.response["errors"]
    assert error.startswith("downloading image failed [json-pointer:/blocks/")
    assert refusal.response["response_metadata"]["messages"] == [f"[ERROR] {error}"]
    figures = await metrics(replica.url)
    assert 'chatops_slack_optional_blocks_dropped_total{kind="image"} 1.0' in figures
    # The alert is posted once, and its later changes keep going without the image.
    assert (
        sum("CheckoutLatencyHigh" in x.text for x in storm_emulator.messages(message.channel)) == 1
    )

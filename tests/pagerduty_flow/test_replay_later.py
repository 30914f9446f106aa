"""A captured PagerDuty event changes nothing when sent again days later, on any replica,
and an event that occurred before the incident's last change is not applied either.

PagerDuty's v3 signatures carry no time, so a body captured once verifies for ever.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from bot.clock import FakeClock
from bot.pagerduty.signature import sign
from bot.storage.models import AlertGroup
from tests.escalation.conftest import WEBHOOK_SECRET, Bot
from tests.support.databases import fresh_database
from tests.support.payloads import notification, resolved

MIN = timedelta(minutes=1)
ADA = {"id": "PUSER01", "type": "user_reference", "summary": "Ada Lovelace"}


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("postgres", tmp_path) as url:
        yield url


def p1(starts_at: str = "2026-01-01T11:50:00Z") -> dict:  # type: ignore[type-arg]
    return notification(labels={"alertname": "ErrorRate", "severity": "error"}, starts_at=starts_at)


async def post_raw(bot: Bot, body: bytes) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {
        "Content-Type": "application/json",
        "X-PagerDuty-Signature": sign(body, WEBHOOK_SECRET),
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{bot.url}/webhooks/pagerduty", data=body, headers=headers) as response,
    ):
        return response.status, await response.json()


async def acked_by(bot: Bot) -> str | None:
    async with bot.service.sessions() as session:
        group = await session.get(AlertGroup, 1, populate_existing=True)
        assert group is not None
        return group.acked_by


async def both_at(a: Bot, b: Bot, offset: timedelta) -> None:
    await a.at(offset)
    await b.at(offset)


async def test_an_acknowledgement_replayed_two_days_later_does_not_stop_the_page(
    pg_url: str, start_bot
) -> None:
    a: Bot = await start_bot(pg_url)
    b: Bot = await start_bot(pg_url, clock=FakeClock(a.now()))
    await a.fire(p1())
    await both_at(a, b, 5 * MIN)  # paged
    assert len(a.events("trigger")) == 1  # one PagerDuty stand-in for both
    incident = a.pd.incidents["chatops:group:1"]
    incident.status = "acknowledged"
    status, _ = await a.pd.send_webhook(
        f"{a.url}/webhooks/pagerduty",
        "incident.acknowledged",
        a.pd.webhook_data(incident),
        WEBHOOK_SECRET,
        agent=ADA,
        occurred_at=a.now(),
    )
    assert status == 200
    captured = a.pd.sent_webhooks[-1]
    assert await acked_by(a) is not None
    await a.fire(resolved(p1()))

    # Two days on, every receipt sweep has run, and the alert fires again.
    await both_at(a, b, timedelta(days=2))
    for bot in (a, b):
        await bot.service.operations.requests.forget_old_receipts()
    await b.fire(p1(starts_at="2026-01-03T11:59:00Z"))
    assert await acked_by(b) is None

    status, answer = await post_raw(b, captured)  # the captured acknowledgement, replayed

    assert status == 200  # 2xx: a 4xx would have PagerDuty retry it, then disable the hook
    assert answer["status"] == "duplicate"
    assert await acked_by(b) is None
    await both_at(a, b, timedelta(days=2, minutes=6))
    pages = [e for e in a.events("trigger") if e["dedup_key"] == "chatops:group:1"]
    assert len(pages) == 2  # the refired group paged again (the example's backup heartbeat
    # pages too, two days without its signal)
    assert (
        'chatops_webhook_rejected_total{reason="replayed",source="pagerduty"} 1.0'
        in await b.metrics()
    )


async def test_an_event_older_than_the_last_change_is_not_applied(pg_url: str, start_bot) -> None:
    a: Bot = await start_bot(pg_url)
    b: Bot = await start_bot(pg_url, clock=FakeClock(a.now()))
    await a.fire(p1())
    await both_at(a, b, 5 * MIN)  # paged
    incident = a.pd.incidents["chatops:group:1"]
    url_a, url_b = f"{a.url}/webhooks/pagerduty", f"{b.url}/webhooks/pagerduty"
    incident.status = "acknowledged"
    status, body = await a.pd.send_webhook(
        url_a,
        "incident.acknowledged",
        a.pd.webhook_data(incident),
        WEBHOOK_SECRET,
        agent=ADA,
        occurred_at=a.now() + 2 * MIN,
    )
    assert status == 200 and json.loads(body)["status"] == "acknowledged"
    # An unacknowledgement from before that acknowledgement, delivered late to the other
    # replica: PagerDuty says the incident is held now, so the escalation stays stopped.
    incident.status = "triggered"
    status, body = await b.pd.send_webhook(
        url_b,
        "incident.unacknowledged",
        b.pd.webhook_data(incident),
        WEBHOOK_SECRET,
        occurred_at=a.now() + MIN,
    )

    assert status == 200 and json.loads(body)["status"] == "stale"
    assert await acked_by(b) is not None
    await both_at(a, b, 90 * MIN)
    assert a.replies("C0000ALERT", "Still firing") == []
    [message] = b.emulator.messages("C0000ALERT")
    shown = b.emulator.message("C0000ALERT", message.ts)
    assert shown is not None
    assert "Acknowledged in PagerDuty by Ada Lovelace" in json.dumps(shown.blocks)
    assert (
        'chatops_webhook_rejected_total{reason="stale",source="pagerduty"} 1.0' in await b.metrics()
    )

"""Escalation timelines in virtual time: what pages, when, and what stops it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
from sqlalchemy import select

from bot.clock import FakeClock
from bot.escalation.models import EscalationStep
from bot.storage.models import AuditEvent
from tests.escalation.conftest import Bot
from tests.support.payloads import notification, resolved

MIN = timedelta(minutes=1)


def p0() -> dict:  # type: ignore[type-arg]
    return notification(labels={"alertname": "ApiDown", "severity": "critical"})


def p1() -> dict:  # type: ignore[type-arg]
    return notification(labels={"alertname": "ErrorRate", "severity": "error"})


async def test_a_p0_pages_at_once_and_renotifies_every_5_minutes_until_acknowledged(
    database_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(database_url)
    await bot.fire(p0())
    [trigger] = bot.events("trigger")
    assert trigger["dedup_key"] == "chatops:group:1"
    assert trigger["payload"]["severity"] == "critical"
    assert bot.replies("C0000INCID", "Paged PagerDuty")

    await bot.at(4 * MIN)
    assert bot.replies("C0000INCID", "Still firing") == []
    await bot.at(5 * MIN)
    await bot.at(10 * MIN)
    renotified = bot.replies("C0000INCID", "Still firing")
    assert len(renotified) == 2 and "<!subteam^S0000ONCAL>" in renotified[0]

    await bot.ack_in_slack("C0000INCID")
    await bot.at(15 * MIN)
    await bot.at(30 * MIN)
    assert len(bot.replies("C0000INCID", "Still firing")) == 2
    assert len(bot.events("trigger")) == 1
    assert len(bot.events("acknowledge")) == 1  # the Slack ack went to PagerDuty, once
    async with bot.service.sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    for action in (
        "escalation.paged",
        "pagerduty.trigger",
        "escalation.renotified",
        "alert.acknowledged",
        "pagerduty.acknowledge",
        "escalation.stopped",
    ):
        assert action in actions


async def test_a_p1_acknowledged_at_minute_4_never_pages(sqlite_url: str, start_bot) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await bot.fire(p1())
    await bot.at(4 * MIN)
    await bot.ack_in_slack("C0000ALERT")
    for minute in (5, 15, 60):
        await bot.at(minute * MIN)
    assert bot.pd.calls_to("/v2/enqueue") == []
    assert bot.replies("C0000ALERT", "Still firing") == []


async def test_a_p1_nobody_acknowledges_pages_at_minute_5_exactly_once(
    database_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(database_url)
    await bot.fire(p1())
    await bot.at(5 * MIN - timedelta(seconds=1))
    assert bot.events("trigger") == []
    await bot.at(5 * MIN)
    assert len(bot.events("trigger")) == 1
    await bot.at(6 * MIN)
    await bot.at(15 * MIN)
    assert len(bot.events("trigger")) == 1
    assert len(bot.replies("C0000ALERT", "Still firing")) == 1  # renotify every 15m


async def test_a_restart_at_minute_3_still_pages_at_minute_5_once(
    sqlite_url: str, start_bot
) -> None:
    first: Bot = await start_bot(sqlite_url)
    started = first.now()
    await first.fire(p1())
    await first.at(3 * MIN)
    await first.running.stop()

    second: Bot = await start_bot(sqlite_url, clock=FakeClock(started + 3 * MIN))
    second.started = started
    assert await second.service.escalation.rearm() == started + 5 * MIN
    await second.at(5 * MIN)
    await second.at(6 * MIN)
    assert len(second.events("trigger")) == 1


async def test_resolving_stops_every_step_and_resolves_in_pagerduty(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await bot.fire(p0())
    await bot.fire(resolved(p0()))
    await bot.at(20 * MIN)
    assert bot.replies("C0000INCID", "Still firing") == []
    [resolve] = bot.events("resolve")
    assert resolve["dedup_key"] == "chatops:group:1"
    assert bot.pd.incidents["chatops:group:1"].status == "resolved"
    async with bot.service.sessions() as session:
        states = (await session.scalars(select(EscalationStep.state))).all()
    assert "pending" not in states


async def test_a_p2_gets_one_reminder_after_30_minutes(sqlite_url: str, start_bot) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await bot.fire(notification())  # severity warning -> P2
    await bot.at(29 * MIN)
    assert bot.replies("C0000ALERT", "Reminder") == []
    await bot.at(30 * MIN)
    await bot.at(120 * MIN)
    assert len(bot.replies("C0000ALERT", "Reminder")) == 1
    assert bot.pd.calls_to("/v2/enqueue") == []


async def test_p3_alerts_land_in_an_hourly_digest_updated_in_place(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    first = notification("g-disk", labels={"alertname": "DiskSlow", "severity": "info"})
    second = notification("g-cert", labels={"alertname": "CertExpiring", "severity": "info"})
    await bot.fire(first)
    await bot.fire(second)
    assert bot.emulator.messages("C0000ALERT") == []  # not posted one by one
    await bot.at(59 * MIN)
    assert bot.emulator.messages("C0000ALERT") == []

    await bot.at(60 * MIN)
    [digest] = bot.emulator.messages("C0000ALERT")
    assert "P3 digest" in str(digest.blocks)
    assert "DiskSlow" in str(digest.blocks) and "CertExpiring" in str(digest.blocks)

    await bot.fire(resolved(first))  # a digest group has no thread: nothing is posted
    assert len(bot.emulator.messages("C0000ALERT")) == 1
    await bot.at(120 * MIN)
    assert len(bot.emulator.messages("C0000ALERT")) == 1
    assert [c for c in bot.emulator.calls("chat.update") if c.args.get("ts") == digest.ts]
    shown = bot.emulator.message("C0000ALERT", digest.ts)
    assert shown is not None and "1 alert group" in str(shown.blocks)
    assert bot.pd.calls_to("/v2/enqueue") == []


async def test_with_workers_running_a_p0_page_goes_out_without_anyone_ticking(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url, run_workers=True)
    async with aiohttp.ClientSession() as http:
        await http.post(
            f"{bot.url}/webhooks/alertmanager",
            json=p0(),
            headers={"Authorization": "Bearer test-webhook-token"},
        )
    for _ in range(100):
        if bot.events("trigger"):
            break
        await asyncio.sleep(0.05)
    assert len(bot.events("trigger")) == 1
    assert "chatops_timer_leader 1.0" in await bot.metrics()

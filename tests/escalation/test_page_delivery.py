"""Pages are durable: PagerDuty trouble is retried, said once, and visible in /metrics."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.pagerduty.models import PagerDutyPage
from bot.storage.models import AuditEvent
from tests.escalation.conftest import ROUTING_KEY, Bot
from tests.support.payloads import notification

MIN = timedelta(minutes=1)


def p0() -> dict:  # type: ignore[type-arg]
    return notification(labels={"alertname": "ApiDown", "severity": "critical"})


async def test_pagerduty_down_keeps_the_page_retries_it_and_says_so_once(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    bot.pd.fail_next("/v2/enqueue", 500, times=2)
    await bot.fire(p0())
    assert "chatops_pagerduty_pages_pending 1.0" in await bot.metrics()
    await bot.at(6 * MIN)  # past the backoff: fails again
    assert len(bot.pd.calls_to("/v2/enqueue")) == 2
    assert len(bot.replies("C0000INCID", "Could not reach PagerDuty")) == 1
    await bot.at(12 * MIN)
    assert len(bot.pd.calls_to("/v2/enqueue")) == 3
    assert bot.pd.incidents["chatops:group:1"].status == "triggered"
    assert bot.replies("C0000INCID", "Paged PagerDuty (after 3 attempts)")
    assert "chatops_pagerduty_pages_pending 0.0" in await bot.metrics()


async def test_a_throttled_page_is_retried(sqlite_url: str, start_bot) -> None:
    bot: Bot = await start_bot(sqlite_url)
    bot.pd.fail_next("/v2/enqueue", 429)
    await bot.fire(p0())
    await bot.at(1 * MIN)  # PagerDuty's advice: 30 s apart
    assert len(bot.events("trigger")) == 2
    assert "chatops:group:1" in bot.pd.incidents


async def test_a_page_pagerduty_refuses_is_never_retried_and_said_in_the_thread(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    bot.pd.fail_next(
        "/v2/enqueue",
        400,
        body={"status": "invalid event", "message": "Event object is invalid", "errors": ["x"]},
    )
    await bot.fire(p0())
    await bot.at(30 * MIN)
    assert len(bot.pd.calls_to("/v2/enqueue")) == 1
    assert bot.replies("C0000INCID", "PagerDuty refused the page")
    assert "chatops_pagerduty_pages_failed 1.0" in await bot.metrics()


async def test_the_routing_key_is_never_stored_or_shown(sqlite_url: str, start_bot) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await bot.fire(p0())
    async with bot.service.sessions() as session:
        pages = (await session.scalars(select(PagerDutyPage))).all()
        audit = (await session.scalars(select(AuditEvent))).all()
    assert pages and all(page.route_ref == "default" for page in pages)
    stored = repr([(p.payload, p.last_error) for p in pages]) + repr([a.details for a in audit])
    assert ROUTING_KEY not in stored
    assert all(ROUTING_KEY not in str(c.args) for c in bot.emulator.calls())


async def test_one_page_per_alert_when_dedup_is_per_alert(
    sqlite_url: str, start_bot, example_config
) -> None:
    config = example_config.model_copy(
        update={"pagerduty": example_config.pagerduty.model_copy(update={"dedup": "alert"})}
    )
    bot: Bot = await start_bot(sqlite_url, config=config)
    await bot.fire(notification(alerts=2, labels={"severity": "critical"}))
    keys = sorted(event["dedup_key"] for event in bot.events("trigger"))
    assert keys == ["chatops:group:1:fp00000000000000", "chatops:group:1:fp00000000000001"]


async def test_without_a_routing_key_the_thread_says_nobody_was_paged_and_why(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url, settings={"pagerduty_routing_key": None})
    await bot.fire(p0())
    await bot.at(1 * MIN)
    assert bot.pd.calls_to("/v2/enqueue") == []
    assert bot.replies("C0000INCID", "Nobody was paged: no PagerDuty routing key")
    assert not bot.replies("C0000INCID", "PagerDuty refused")

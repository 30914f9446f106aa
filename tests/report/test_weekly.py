"""The weekly report in Slack: due in the team's time zone, posted once per period."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.audit import trail
from bot.clock import FakeClock
from bot.config import Config
from bot.report.schedule import ReportConfig, last_due, parse_every, period_before
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import StartService

CHANNEL = "C0000ALERT"
# Monday 23 Nov 2026, 09:00 in Madrid is 08:00 UTC (CET).
DUE = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def with_report(config: Config, **overrides: str) -> Config:
    report = ReportConfig(channel=CHANNEL, every="mon 09:00", timezone="Europe/Madrid", **overrides)
    return config.model_copy(update={"report": report})


def reports(emulator: SlackEmulator) -> list[str]:
    return [
        m.text for m in emulator.messages(CHANNEL) if m.text.startswith("Weekly operations report")
    ]


def test_due_moments_follow_the_local_clock_and_daylight_saving() -> None:
    assert parse_every("Monday 09:00") == parse_every("mon 09:00")
    assert last_due(DUE + timedelta(minutes=1), "mon 09:00", "Europe/Madrid") == DUE
    assert last_due(DUE - timedelta(minutes=1), "mon 09:00", "Europe/Madrid") == DUE - timedelta(
        days=7
    )
    # The week that holds the change to summer time is 167 hours long, and still one week.
    since, until = period_before(
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC), "mon 09:00", "Europe/Madrid"
    )
    assert (since, until) == (
        datetime(2026, 3, 23, 8, 0, tzinfo=UTC),
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize("every", ["monday", "mon 9", "lun 09:00", "mon 24:00", "monkey 09:00"])
def test_a_weekly_time_people_cannot_mean_is_refused(every: str) -> None:
    with pytest.raises(ValueError, match=r"weekly time|time of day"):
        parse_every(every)


def test_an_unknown_time_zone_is_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match="IANA name"):
        ReportConfig(channel=CHANNEL, timezone="Madrid")


async def test_posted_once_per_period_across_passes_and_a_restart(
    database_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    config = with_report(example_config)
    clock = FakeClock(DUE - timedelta(minutes=1))
    bot = await start_service(database_url, config=config, clock=clock)
    async with bot.service.sessions.begin() as session:  # one P0 incident in the week
        trail.record(
            session,
            at=DUE - timedelta(days=2),
            actor="system",
            action="alert.opened",
            subject="alert-group:1",
            priority="P0",
        )

    await bot.service.escalation.tick()
    await bot.settle()
    assert reports(emulator) == []  # not due yet

    clock.advance(timedelta(minutes=2))
    for _ in range(3):
        await bot.service.escalation.tick()
        await bot.settle()
    [text] = reports(emulator)
    assert "Nov 16 – Nov 23" in text and "1 alert groups" in text
    [message] = [m for m in emulator.messages(CHANNEL) if m.text == text]
    blocks = json.dumps(message.blocks)
    assert "P0 1" in blocks and "previous: P0 0" in blocks
    [chart] = [m for m in emulator.replies(CHANNEL, message.ts) if m.files]
    [shared] = chart.files
    png = emulator.files.content(shared["id"])
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000

    await bot.stop()
    again = await start_service(database_url, config=config, clock=clock)
    await again.service.escalation.tick()
    await again.settle()
    assert len(reports(emulator)) == 1

    clock.advance(timedelta(days=7))  # the next Monday: the next report
    await again.service.escalation.tick()
    await again.settle()
    assert len(reports(emulator)) == 2


async def test_two_replicas_post_one_report(
    start_service: StartService, emulator: SlackEmulator, example_config: Config, tmp_path: object
) -> None:
    from tests.support.databases import fresh_database

    config = with_report(example_config)
    async with fresh_database("postgres", tmp_path) as url:  # type: ignore[arg-type]
        clock = FakeClock(DUE + timedelta(minutes=5))
        first = await start_service(url, config=config, clock=clock)
        second = await start_service(url, config=config, clock=clock)
        await asyncio.gather(first.service.escalation.tick(), second.service.escalation.tick())
        await first.settle()
        await second.settle()
        assert len(reports(emulator)) == 1
        await first.stop()
        await second.stop()


async def test_a_pass_that_fails_before_its_commit_posts_nothing_and_the_next_posts(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock(DUE + timedelta(minutes=5))
    bot = await start_service(sqlite_url, config=with_report(example_config), clock=clock)
    real_record = trail.record

    def crash(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the process died here")

    monkeypatch.setattr("bot.report.weekly.trail.record", crash)
    await bot.service.escalation.tick()  # logged, not raised: the timers keep running
    await bot.settle()
    assert reports(emulator) == []
    monkeypatch.setattr("bot.report.weekly.trail.record", real_record)
    await bot.service.escalation.tick()
    await bot.settle()
    assert len(reports(emulator)) == 1


async def test_a_report_more_than_a_day_late_is_skipped(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    clock = FakeClock(DUE + timedelta(days=2))
    bot = await start_service(sqlite_url, config=with_report(example_config), clock=clock)
    await bot.service.escalation.tick()
    await bot.settle()
    assert reports(emulator) == []

"""Changing a declared incident: lead, severity, status, updates, actions and resolve
change the pinned summary in place and reach the broadcast channel; the lead is reminded
on the test's clock; every bad input is answered to its author and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

from bot.config import Config
from bot.incidents.models import Incident
from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import AuditEvent
from tests.conftest import RunningService, StartService
from tests.incidents_flow.conftest import (
    ONCALL,
    OUTSIDER,
    P0_CHANNEL,
    incident_command,
    p0,
    settle,
    summary,
    text_of,
    the_channel,
    told,
    with_incidents,
)


async def declared(
    url: str, start_service: StartService, emulator: SlackEmulator, config: Config
) -> tuple[RunningService, str]:
    bot = await start_service(url, config=with_incidents(config, auto_declare=["P0"]))
    await bot.deliver(p0())
    await settle(bot)
    return bot, the_channel(emulator)


async def test_changes_update_the_summary_in_place_and_reach_the_broadcast_channel(
    database_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    bot, channel = await declared(database_url, start_service, emulator, example_config)
    pinned = summary(emulator, channel)

    for text in (
        "lead <@U0000APR01|ari>",
        "update Rolled back the 14:02 deploy; error rate falling",
        "severity P1",
        "status mitigated",
        "action Alert on the error rate before the latency",
    ):
        await incident_command(bot, emulator, text, user=ONCALL, channel=channel)
    # Outside the channel, by id.
    await incident_command(
        bot, emulator, "resolve 1 fixed by the rollback", user=ONCALL, channel="C0000ALERT"
    )

    current = emulator.message(channel, pinned.ts)
    assert current is not None and current.updates, "the summary is updated in place"
    shown = text_of(current)
    assert "<@U0000APR01>" in shown and "P1" in shown and "Resolved" in shown
    assert "Rolled back the 14:02 deploy" in shown
    assert len(emulator.channels.of(channel).pins) == 1
    posted = [m.text for m in emulator.messages(channel)]
    assert any("is now the lead" in t for t in posted)
    assert any("Follow-up added" in t for t in posted)
    broadcast = [m.text for m in emulator.messages(P0_CHANNEL)]
    assert any("update by <@U0000ONC01>" in t and "Rolled back" in t for t in broadcast)
    assert any("is now *Mitigated*" in t for t in broadcast)
    assert any("is now *Resolved*" in t for t in broadcast)
    assert "U0000APR01" in emulator.channels.of(channel).members
    async with bot.service.sessions() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject == "incident:1")
                .order_by(AuditEvent.id)
            )
        ).all()
    assert actions == [
        "incident.declared",
        "incident.lead",
        "incident.update",
        "incident.severity",
        "incident.status",
        "incident.action",
        "incident.resolve",
    ]


async def test_the_lead_is_reminded_when_no_update_was_posted_for_update_every(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    bot, channel = await declared(sqlite_url, start_service, emulator, example_config)

    def reminders() -> list[str]:
        return [m.text for m in emulator.messages(channel) if "no update on incident #1" in m.text]

    bot.clock.advance(timedelta(minutes=29))
    await settle(bot)
    assert reminders() == []
    bot.clock.advance(timedelta(minutes=1))
    await settle(bot)
    assert len(reminders()) == 1
    await incident_command(bot, emulator, "update still looking", user=ONCALL, channel=channel)
    bot.clock.advance(timedelta(minutes=29))
    await settle(bot)
    assert len(reminders()) == 1, "an update restarts the wait"
    bot.clock.advance(timedelta(minutes=1))
    await settle(bot)
    assert len(reminders()) == 2
    await incident_command(bot, emulator, "resolve", user=ONCALL, channel=channel)
    bot.clock.advance(timedelta(hours=2))
    await settle(bot)
    assert len(reminders()) == 2, "a resolved incident needs no updates"


@pytest.mark.parametrize(
    ("text", "where", "answer"),
    [
        ("update the API is back", "C0000ALERT", "not an incident channel"),
        ("update 99 the API is back", "C0000ALERT", "no incident #99"),
        ("lead <@U0NOSUCH01>", "channel", "not a person in this workspace"),
        ("lead <@U0BOT00001>", "channel", "not a person in this workspace"),
        ("declare " + "x" * 251, "C0000ALERT", "within 250"),
        ("severity P7", "channel", "not a severity"),
        ("status fixed", "channel", "identified"),
        ("dance", "channel", "not an /incident subcommand"),
    ],
)
async def test_bad_input_is_answered_and_changes_nothing(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    text: str,
    where: str,
    answer: str,
) -> None:
    bot, channel = await declared(sqlite_url, start_service, emulator, example_config)
    before = await _snapshot(bot)
    calls = len(emulator.calls())
    await incident_command(
        bot, emulator, text, user=ONCALL, channel=channel if where == "channel" else where
    )
    assert answer in told(emulator, ONCALL)[-1]
    assert await _snapshot(bot) == before
    made = [c.method for c in emulator.calls()[calls:]]
    assert set(made) <= {"chat.postEphemeral", "users.info", "auth.test"}, made


async def test_an_outsider_may_not_change_an_incident(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    bot, channel = await declared(sqlite_url, start_service, emulator, example_config)
    before = await _snapshot(bot)
    await incident_command(bot, emulator, "resolve", user=OUTSIDER, channel=channel)
    assert "Only the incident's lead" in told(emulator, OUTSIDER)[-1]
    assert await _snapshot(bot) == before


async def test_a_second_declaration_for_a_group_in_an_incident_points_at_it(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    bot, channel = await declared(sqlite_url, start_service, emulator, example_config)
    alert = next(m for m in emulator.messages(P0_CHANNEL) if "ApiDown" in text_of(m))
    answer = await bot.service.incidents.declare(
        __import__("incidents.commands", fromlist=["Declare"]).Declare("again", "P0"),
        ONCALL,
        group_id=1,
    )
    assert "already part of incident #1" in answer and f"<#{channel}>" in answer
    assert alert is not None
    async with bot.service.sessions() as session:
        assert len((await session.scalars(select(Incident))).all()) == 1


async def _snapshot(bot: RunningService) -> tuple[object, ...]:
    async with bot.service.sessions() as session:
        incidents = (await session.scalars(select(Incident).order_by(Incident.id))).all()
        events = len((await session.scalars(select(AuditEvent.id))).all())
    return (
        events,
        tuple((i.id, i.lead, i.severity, i.status, i.last_update, i.remind_at) for i in incidents),
    )


async def test_the_channel_is_archived_archive_after_the_resolve(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    config = with_incidents(example_config, auto_declare=["P0"], archive_after="1h")
    bot = await start_service(sqlite_url, config=config)
    await bot.deliver(p0())
    await settle(bot)
    channel = the_channel(emulator)
    await incident_command(bot, emulator, "resolve", user=ONCALL, channel=channel)
    bot.clock.advance(timedelta(minutes=59))
    await settle(bot)
    assert not emulator.channels.of(channel).archived
    bot.clock.advance(timedelta(minutes=1))
    await settle(bot)
    assert emulator.channels.of(channel).archived
    await settle(bot)
    assert len([c for c in emulator.calls("conversations.archive") if c.response["ok"]]) == 1


async def test_metrics_count_declared_incidents_and_time_to_declare_mitigate_and_resolve(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    bot, channel = await declared(sqlite_url, start_service, emulator, example_config)
    bot.clock.advance(timedelta(minutes=20))
    await incident_command(bot, emulator, "status mitigated", user=ONCALL, channel=channel)
    bot.clock.advance(timedelta(minutes=40))
    await incident_command(bot, emulator, "resolve", user=ONCALL, channel=channel)
    async with aiohttp.ClientSession() as http, http.get(f"{bot.url}/metrics") as response:
        text = await response.text()
    assert 'chatops_incidents_declared_total{severity="P0"} 1.0' in text
    # The alert started 10 minutes before the declaration (its startsAt is 11:50).
    assert 'chatops_incident_time_to_declare_seconds_sum{severity="P0"} 600.0' in text
    assert 'chatops_incident_time_to_mitigate_seconds_sum{severity="P0"} 1800.0' in text
    assert 'chatops_incident_time_to_resolve_seconds_sum{severity="P0"} 4200.0' in text

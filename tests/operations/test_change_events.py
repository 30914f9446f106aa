"""Every deploy, shift and rollback that ends reaches PagerDuty once as a change event
(Events API v2 `change/enqueue`), queued with the operation's end, so a crash between
the approval and the send loses and doubles nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.pagerduty.models import PagerDutyChange
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import StartService
from tests.escalation.conftest import pagerduty_settings, pd_server
from tests.operations.conftest import APPROVERS, DEPLOYER, Flow
from tests.servers.pagerduty import PagerDutyServer

__all__ = ["pd_server"]


async def test_each_operation_that_ends_is_one_change_event_with_who_approved_it(
    database_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    pd_server: PagerDutyServer,
) -> None:
    flow = Flow(await start_service(database_url, **pagerduty_settings(pd_server)), emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    await flow.request_and_approve("/shift", "10 api production")
    flow.bot.clock.advance(timedelta(minutes=6))
    await flow.sweep()  # the bake ends: the shift succeeded
    await flow.request_and_approve("/rollback", "api production")
    await flow.bot.service.escalation.tick()  # the timer holder delivers them

    events = pd_server.change_events
    summaries = [e["payload"]["summary"] for e in events]
    assert summaries == [
        "/deploy api v1.4.0 production: Succeeded (api/production)",
        "/shift 10 api production: Succeeded (api/production)",
        "/rollback api production: Succeeded (api/production)",
    ]
    details = events[1]["payload"]["custom_details"]
    assert details["requested_by"] == DEPLOYER
    assert details["approved_by"] == list(APPROVERS)
    assert details["before"] != details["planned"]
    assert events[1]["links"][0]["href"] == "https://slack.com/app_redirect?channel=C0000DEPLY"
    assert events[1]["payload"]["source"] == "chatops"

    # Another pass sends nothing again.
    await flow.bot.service.escalation.tick()
    assert len(pd_server.change_events) == 3


async def test_a_bake_that_fails_rolls_back_and_says_so_as_a_change_event(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    pd_server: PagerDutyServer,
) -> None:
    flow = Flow(await start_service(sqlite_url, **pagerduty_settings(pd_server)), emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    await flow.request_and_approve("/shift", "10 api production")
    await flow.alert("P1")  # during the bake: automatic rollback
    await flow.sweep()
    await flow.bot.service.escalation.tick()
    summaries = [e["payload"]["summary"] for e in pd_server.change_events]
    assert summaries[-1] == "/shift 10 api production: Rolled back (api/production)"
    assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}


async def test_a_crash_between_the_approval_and_the_send_still_sends_each_change_once(
    database_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    pd_server: PagerDutyServer,
) -> None:
    settings = pagerduty_settings(pd_server)
    first = await start_service(database_url, **settings)
    flow = Flow(first, emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    await flow.request_and_approve("/deploy", "api v1.4.0 staging")
    # The process dies before its timer pass: one change still pending, the other
    # claimed mid-send.
    async with first.service.sessions.begin() as session:
        await session.execute(
            update(PagerDutyChange).where(PagerDutyChange.id == 2).values(state="sending")
        )
    await first.stop()
    assert pd_server.change_events == []

    second = await start_service(database_url, **settings)
    await second.service.escalation.run_once()  # takes the timer lock, recovers, sends
    await second.service.escalation.run_once()
    summaries = sorted(e["payload"]["summary"] for e in pd_server.change_events)
    assert summaries == [
        "/deploy api v1.4.0 production: Succeeded (api/production)",
        "/deploy api v1.4.0 staging: Succeeded (api/staging)",
    ]


async def test_without_a_routing_key_no_change_event_is_queued(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    async with flow.bot.service.sessions() as session:
        assert (await session.get(PagerDutyChange, 1)) is None

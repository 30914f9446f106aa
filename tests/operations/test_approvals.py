"""Approval by reactions: rejection, expiry, withdrawal, duplicates, concurrency, restart."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import StartService
from tests.operations.conftest import APPROVERS, CHANNEL, Flow


async def test_one_rejection_ends_the_request_and_nothing_runs(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(database_url), emulator)
    await flow.command("/deploy", "api v1.4.0 production")
    ts = flow.latest().ts
    await flow.react(ts, APPROVERS[0])
    await flow.react(ts, APPROVERS[1], "x")
    await flow.react(ts, "U0000APR03")  # too late: the request is closed

    assert "Rejected" in flow.header(ts) and "U0000APR02" in flow.text(ts)
    assert await flow.dryrun_state() == {}  # the backend was never touched
    assert await flow.statuses() == ["Rejected"]


async def test_an_expired_request_takes_no_votes(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.command("/deploy", "api v1.4.0 production")
    ts = flow.latest().ts
    await flow.react(ts, APPROVERS[0])
    flow.bot.clock.advance(timedelta(minutes=15))
    await flow.sweep()
    assert "Expired" in flow.header(ts)

    await flow.react(ts, APPROVERS[1])
    assert "Expired" in flow.header(ts)
    assert await flow.dryrun_state() == {}


async def test_a_vote_after_expiry_but_before_the_sweep_expires_the_request(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.command("/deploy", "api v1.4.0 production")
    ts = flow.latest().ts
    await flow.react(ts, APPROVERS[0])
    flow.bot.clock.advance(timedelta(minutes=16))
    await flow.react(ts, APPROVERS[1])
    assert "Expired" in flow.header(ts)
    assert await flow.dryrun_state() == {}


async def test_removing_an_approval_withdraws_it(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.command("/deploy", "api v1.4.0 production")
    ts = flow.latest().ts
    await flow.react(ts, APPROVERS[0])
    assert "1 of 2" in flow.text(ts)
    await flow.react(ts, APPROVERS[0], removed=True)
    assert "0 of 2" in flow.text(ts)
    await flow.react(ts, APPROVERS[1])
    assert "Pending" in flow.header(ts) and "1 of 2" in flow.text(ts)


async def test_a_retried_reaction_event_counts_once(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.command("/deploy", "api v1.4.0 production")
    ts = flow.latest().ts
    await flow.react(ts, APPROVERS[0], event_id="Ev0000000001")
    await flow.react(ts, APPROVERS[0], event_id="Ev0000000001", retry_num=1)
    await flow.react(ts, APPROVERS[0], removed=True, event_id="Ev0000000002")
    await flow.react(ts, APPROVERS[0], removed=True, event_id="Ev0000000002", retry_num=1)
    assert "0 of 2" in flow.text(ts) and "Pending" in flow.header(ts)


async def test_outsiders_are_told_once_and_other_messages_are_ignored(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.command("/deploy", "api v1.4.0 production")
    ts = flow.latest().ts
    await flow.react(ts, "U0000OUT01")
    await flow.react(ts, "U0000OUT01", "heavy_check_mark")
    assert "0 of 2" in flow.text(ts)
    [told] = flow.ephemerals_for("U0000OUT01")
    assert "not an approver" in told

    # A message that is not an approval request.
    posted = await flow.bot.service.slack_client.chat_postMessage(channel=CHANNEL, text="hi")
    before = len(emulator.calls())
    await flow.react(str(posted["ts"]), APPROVERS[0])
    await flow.react(ts, APPROVERS[0], "tada")  # not a vote
    assert len(emulator.calls()) == before
    assert "0 of 2" in flow.text(ts)


async def test_a_second_request_approved_while_one_runs_is_not_run(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    first = await flow.request_and_approve("/shift", "10")  # baking: still Running
    assert "Running" in flow.header(first)

    await flow.command("/shift", "50")
    second = flow.latest().ts
    for approver in APPROVERS:
        await flow.react(second, approver)
    assert "Failed" in flow.header(second)
    assert "Another operation is running" in flow.text(second)
    assert (await flow.dryrun_state())["weights"] == {"blue": 90, "green": 10}


async def test_a_pending_request_survives_a_restart(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    clock = FakeClock()
    first = Flow(await start_service(database_url, clock=clock), emulator)
    await first.command("/deploy", "api v1.4.0 production")
    ts = first.latest().ts
    await first.react(ts, APPROVERS[0])
    await first.bot.stop()

    flow = Flow(await start_service(database_url, clock=clock), emulator)
    await flow.react(ts, APPROVERS[1])
    assert "Succeeded" in flow.header(ts)
    assert (await flow.dryrun_state())["versions"]["green"] == "v1.4.0"


async def test_an_operation_cut_off_by_a_crash_is_reported_at_start(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    from sqlalchemy import update

    from bot.operations.models import OperationRow

    clock = FakeClock()
    first = Flow(await start_service(sqlite_url, clock=clock), emulator)
    await first.request_and_approve("/deploy", "api v1.4.0 production")
    shift = await first.request_and_approve("/shift", "10")
    # As if the process died in the middle of step 1: the row still says running.
    async with first.bot.service.sessions.begin() as session:
        await session.execute(update(OperationRow).values(status="running", step=1))
    await first.bot.stop()

    flow = Flow(await start_service(sqlite_url, clock=clock), emulator)
    await flow.settle()
    assert "Failed" in flow.header(shift)
    [note] = [t for t in flow.thread(shift) if "interrupted at step 1/2" in t]
    assert "blue v0.0.0 (90%), green v1.4.0 (10%)" in note and "/rollback" in note
    # Nothing resumed: traffic is where the crash left it, and the lock is free again.
    assert (await flow.dryrun_state())["weights"] == {"blue": 90, "green": 10}
    await flow.command("/rollback", "")
    await flow.react(flow.latest().ts, APPROVERS[0])
    await flow.react(flow.latest().ts, APPROVERS[1])
    assert "Succeeded" in flow.header(flow.latest().ts)
    assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}


async def test_a_p0_alert_for_the_service_stops_an_approved_deploy_unless_forced(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.alert("P0")
    ts = await flow.request_and_approve("/deploy", "api v1.4.0 production")
    assert "Failed" in flow.header(ts) and "P0/P1 alerts are firing" in flow.text(ts)
    assert "ApiDown" in flow.text(ts)  # the request showed the firing alert
    assert await flow.dryrun_state() == {}

    await flow.command("/deploy", "api v1.4.0 production --force")
    forced = flow.latest().ts
    for approver in (*APPROVERS, "U0000APR03"):  # --force needs one more approval
        await flow.react(forced, approver)
    assert "Succeeded" in flow.header(forced)

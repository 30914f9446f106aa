"""Releases that protect production: a rollback preempts a baking shift, a request made
while P0/P1 alerts fire is frozen the moment it is posted, and `/deploy status`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.approvals.models import ApprovalRequestRow
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import AuditEvent
from commands.render import FORCE_ACTION
from tests.conftest import StartService
from tests.operations.conftest import APPROVERS, CHANNEL, DEPLOYER, Flow

THIRD_APPROVER = "U0000APR03"


async def latest_request_id(flow: Flow) -> str:
    async with flow.bot.service.sessions() as session:
        ids = await session.scalars(
            select(ApprovalRequestRow.id).order_by(ApprovalRequestRow.created_at.desc())
        )
        return str(ids.first())


async def audit_actions(flow: Flow) -> list[str]:
    async with flow.bot.service.sessions() as session:
        return list(await session.scalars(select(AuditEvent.action)))


async def test_a_rollback_approved_during_a_bake_cancels_the_bake_and_runs_at_once(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(database_url), emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    shift = await flow.request_and_approve("/shift", "10 api production")
    assert "Running" in flow.header(shift)  # baking for five minutes
    assert (await flow.dryrun_state())["weights"] == {"blue": 90, "green": 10}
    flow.bot.clock.advance(timedelta(minutes=1))

    await flow.command("/rollback", "api production")
    rollback = flow.latest().ts
    rollback_id = await latest_request_id(flow)
    # The approvers are told what approving cancels.
    assert "Pending" in flow.header(rollback)
    assert "Preempts" in flow.text(rollback)
    assert "/shift 10 api production" in flow.text(rollback) and "baking until" in flow.text(
        rollback
    )

    for approver in APPROVERS:
        await flow.react(rollback, approver)

    # It ran at once: no "another operation is running".
    assert "Succeeded" in flow.header(rollback), flow.text(rollback)
    assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}
    assert any("Preempting `/shift 10 api production`" in t for t in flow.thread(rollback))
    # The shift ends with an outcome word and a note naming the rollback that took over.
    assert "Failed" in flow.header(shift)
    assert "Superseded by rollback" in flow.text(shift)
    note = [t for t in flow.thread(shift) if "Superseded by rollback" in t]
    assert note and "`/rollback api production`" in note[0] and rollback_id in note[0]
    assert "<@U0000APR01>" in note[0] and "<@U0000APR02>" in note[0]
    assert flow.thread(shift)[-1].startswith("❌ Failed")

    # The bake's end comes and goes: the superseded shift is not finished a second time.
    flow.bot.clock.advance(timedelta(minutes=10))
    await flow.sweep()
    assert "Failed" in flow.header(shift)
    assert not any("Succeeded" in t for t in flow.thread(shift))
    assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}
    assert (await audit_actions(flow)).count("operation.superseded") == 1

    # The lock went with the rollback and was released: the release can start over.
    again = await flow.request_and_approve("/shift", "10 api production")
    assert "Running" in flow.header(again)


class Health:
    """A health endpoint that answers 200 at once, except while held: then the requests
    that arrive wait (all of them, or only the next one) until released."""

    def __init__(self) -> None:
        self.url = ""
        self._all = asyncio.Event()
        self._all.set()
        self._next = asyncio.Event()
        self._next_armed = False

    def hold(self, *, only_next: bool = False) -> None:
        if only_next:
            self._next.clear()
            self._next_armed = True
        else:
            self._all.clear()

    def release(self) -> None:
        self._all.set()
        self._next.set()

    async def ready(self, _request: web.Request) -> web.Response:
        if self._next_armed:
            self._next_armed = False
            await self._next.wait()
        else:
            await self._all.wait()
        return web.Response(status=200)


@pytest.fixture
async def health() -> AsyncIterator[Health]:
    server = Health()
    app = web.Application()
    app.router.add_get("/ready", server.ready)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}/ready"
    yield server
    server.release()
    await runner.cleanup()


def with_health_check(config: Config, url: str) -> Config:
    data = config.model_dump(mode="json")
    data["deploy"]["services"]["api"]["environments"]["production"]["health_url"] = url
    return Config.model_validate(data)


async def until(flow: Flow, condition: Callable[[], bool]) -> None:
    """Deliver Slack calls until `condition` holds (the operation's task keeps running)."""
    for _ in range(400):
        await flow.bot.settle()
        if condition():
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the condition never held")


async def test_a_rollback_approved_while_a_rollback_runs_is_refused_not_queued(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    health: Health,
) -> None:
    config = with_health_check(example_config, health.url)
    flow = Flow(await start_service(sqlite_url, config=config), emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    await flow.request_and_approve("/shift", "10 api production")
    await flow.command("/rollback", "api production")
    first = flow.latest().ts
    await flow.command("/rollback", "api production")
    second = flow.latest().ts
    assert first != second

    health.hold()  # the first rollback's health check hangs: it stays in flight
    await flow.react(first, APPROVERS[0])
    await emulator.send_reaction(
        user=APPROVERS[1], reaction="white_check_mark", channel=CHANNEL, ts=first
    )
    await until(flow, lambda: any("Step 2/2: Health check" in t for t in flow.thread(first)))
    assert "Running" in flow.header(first)

    for approver in APPROVERS:
        await emulator.send_reaction(
            user=approver, reaction="white_check_mark", channel=CHANNEL, ts=second
        )
    await until(flow, lambda: "Failed" in flow.header(second))
    assert "already running and is not cancelled by another one" in flow.text(second)
    assert "Running" in flow.header(first)  # untouched

    health.release()
    await flow.settle()
    assert "Succeeded" in flow.header(first)
    assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}


async def test_a_rollback_cancels_a_shift_whose_step_is_still_in_flight(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    health: Health,
) -> None:
    config = with_health_check(example_config, health.url)
    flow = Flow(await start_service(sqlite_url, config=config), emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    await flow.command("/shift", "10 api production")
    shift = flow.latest().ts
    health.hold(only_next=True)  # the shift's health check (step 2 of 3) hangs
    await flow.react(shift, APPROVERS[0])
    await emulator.send_reaction(
        user=APPROVERS[1], reaction="white_check_mark", channel=CHANNEL, ts=shift
    )
    await until(flow, lambda: any("Step 2/3: Health check" in t for t in flow.thread(shift)))
    assert (await flow.dryrun_state())["weights"] == {"blue": 90, "green": 10}

    # Not flow.command/react: they wait for every task, and the shift's task is waiting.
    await emulator.send_command("/rollback", "api production", user=DEPLOYER, channel=CHANNEL)
    await until(flow, lambda: flow.latest().ts != shift)
    rollback = flow.latest().ts
    assert "the running `/shift 10 api production`" in flow.text(rollback)
    assert "at step 2/3" in flow.text(rollback)
    for approver in APPROVERS:
        await emulator.send_reaction(
            user=approver, reaction="white_check_mark", channel=CHANNEL, ts=rollback
        )
        await until(flow, lambda: "0 of 2" not in flow.text(rollback))
    await until(flow, lambda: "Succeeded" in flow.header(rollback))
    assert "Failed" in flow.header(shift)
    assert any("Superseded by rollback" in t for t in flow.thread(shift))

    health.release()  # the shift's step ends after the rollback: the shift goes no further
    await flow.settle()
    assert "Failed" in flow.header(shift)
    assert not any("Step 3/3" in t for t in flow.thread(shift))
    assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}


async def test_a_deploy_during_a_p0_is_frozen_when_posted_and_force_runs_with_one_more(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(database_url), emulator)
    await flow.alert("P0")

    await flow.command("/deploy", "api v1.4.0 production")
    frozen = flow.latest().ts
    # Said the moment it is posted: which alerts, --force, and how many approvals then.
    assert "Failed" in flow.header(frozen)
    text = flow.text(frozen)
    assert "Frozen" in text and "P0 ApiDown" in text
    assert "--force" in text and "3 approvals (1 more than usual)" in text
    assert "Approve with" not in text  # no call to vote

    for approver in APPROVERS:
        await flow.react(frozen, approver)
    assert "Failed" in flow.header(frozen) and "0 of 2" in flow.text(frozen)
    assert await flow.statuses() == ["Failed"]
    assert "green" not in str((await flow.dryrun_state()).get("history", []))
    assert "operation.frozen" in await audit_actions(flow)
    assert "operation.approval" not in await audit_actions(flow)

    frozen_id = await latest_request_id(flow)
    # Someone who may not deploy cannot use the button to ask for it.
    response = await emulator.send_block_action(
        user=APPROVERS[0],
        action_id=FORCE_ACTION,
        value=frozen_id,
        channel=CHANNEL,
        message_ts=frozen,
    )
    assert response.status == 200
    await flow.settle()
    assert flow.latest().ts == frozen
    assert any("not a deployer" in t for t in flow.ephemerals_for(APPROVERS[0]))

    await emulator.send_block_action(
        user=DEPLOYER, action_id=FORCE_ACTION, value=frozen_id, channel=CHANNEL, message_ts=frozen
    )
    await flow.settle()
    forced = flow.latest().ts
    assert forced != frozen
    assert "Pending" in flow.header(forced)
    assert "/deploy api v1.4.0 production --force" in flow.text(forced)
    assert "0 of 3" in flow.text(forced)

    for approver in (*APPROVERS, THIRD_APPROVER):
        await flow.react(forced, approver)
    assert "Succeeded" in flow.header(forced), flow.text(forced)
    assert (await flow.dryrun_state())["versions"]["green"] == "v1.4.0"


async def test_a_rollback_during_a_p0_is_never_frozen(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    await flow.request_and_approve("/shift", "10 api production")
    flow.bot.clock.advance(timedelta(minutes=5))
    await flow.sweep()
    await flow.alert("P0")
    rollback = await flow.request_and_approve("/rollback", "api production")
    assert "Frozen" not in flow.text(rollback)
    assert "Succeeded" in flow.header(rollback)


def status_answer(flow: Flow) -> str:
    answers = flow.ephemerals_for(DEPLOYER)
    assert answers
    return answers[-1]


async def test_deploy_status_shows_colour_versions_traffic_bake_alerts_and_approvers(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    await flow.request_and_approve("/shift", "10 api production")
    await flow.alert("P2")
    before = len(flow.requests())

    response = await flow.command("/deploy", "status api production")
    assert (response.json or {}).get("text", "").startswith("Got it: looking up")
    answer = status_answer(flow)
    assert "*api/production*" in answer
    assert "Live colour: *blue*" in answer
    assert "blue v0.0.0 · green v1.4.0" in answer
    assert "Traffic: blue 90% / green 10%" in answer
    assert "Running: `/shift 10 api production`, baking until" in answer
    assert "P2 ApiDown" in answer
    assert "Last 2 operation(s)" in answer
    assert "`/deploy api v1.4.0 production`: Succeeded" in answer
    assert "`/shift 10 api production`: Running" in answer
    assert "approved by <@U0000APR01>, <@U0000APR02>" in answer
    assert len(flow.requests()) == before  # nothing posted in the channel

    # Without arguments in api's channel: every environment of api.
    await flow.command("/deploy", "status")
    answer = status_answer(flow)
    assert "*api/staging*" in answer and "*api/production*" in answer
    assert "Last operations: none yet" in answer  # staging


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("status nosuch", "`nosuch` is neither a service"),
        ("status api nosuch", "Unknown environment `nosuch` for api"),
        ("status api production extra", "Unexpected extra argument"),
    ],
)
async def test_deploy_status_with_bad_input_says_what_was_wrong(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    text: str,
    says: str,
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    response = await flow.command("/deploy", text)
    body: dict[str, Any] = response.json or {}
    assert body.get("response_type") == "ephemeral"
    assert says in str(body.get("text")) and "/deploy status [service]" in str(body.get("text"))
    assert flow.requests() == []

"""A release through Slack: /deploy, approvals by reaction, shifts, a bake alert, rollback."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import AuditEvent
from tests.conftest import StartService
from tests.operations.conftest import APPROVERS, DEPLOYER, Flow


async def test_deploy_approved_by_two_then_shift_and_a_bake_alert_rolls_back(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(database_url), emulator)

    response = await flow.command("/deploy", "api v1.4.0 production")
    # Nothing to correct: the ack says it was received and where the request goes.
    assert (response.json or {}).get("text", "").startswith("Got it: `/deploy api v1.4.0")
    ts = flow.latest().ts
    assert "Pending" in flow.header(ts) and "Deploy v1.4.0 to api/production" in flow.header(ts)
    assert "0 of 2" in flow.text(ts)

    await flow.react(ts, DEPLOYER)  # the requester's own approval does not count
    assert "0 of 2" in flow.text(ts) and "Pending" in flow.header(ts)
    assert any("own approval" in t for t in flow.ephemerals_for(DEPLOYER))

    await flow.react(ts, APPROVERS[0])
    assert "1 of 2" in flow.text(ts) and "Pending" in flow.header(ts)
    await flow.react(ts, APPROVERS[1])

    assert "Succeeded" in flow.header(ts)
    state = await flow.dryrun_state()
    assert state["versions"] == {"blue": "v0.0.0", "green": "v1.4.0"}
    assert state["weights"] == {"blue": 100, "green": 0}
    thread = flow.thread(ts)
    assert thread[0].startswith("🔄 Running `/deploy api v1.4.0 production`")
    assert any("Step 1/1 done" in t for t in thread)
    assert "Succeeded" in thread[-1]

    # /shift 10 alone: api's channel, production by default. It bakes for 5 minutes.
    shift10 = await flow.request_and_approve("/shift", "10")
    assert "Running" in flow.header(shift10)
    assert (await flow.dryrun_state())["weights"] == {"blue": 90, "green": 10}
    flow.bot.clock.advance(timedelta(minutes=5))
    await flow.sweep()
    assert "Succeeded" in flow.header(shift10)

    shift50 = await flow.request_and_approve("/shift", "50")
    assert (await flow.dryrun_state())["weights"] == {"blue": 50, "green": 50}
    flow.bot.clock.advance(timedelta(minutes=1))
    await flow.alert("P0")
    await flow.sweep()

    assert "Rolled back" in flow.header(shift50)
    assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}
    assert any("Rolled back automatically" in t for t in flow.thread(shift50))
    async with flow.bot.service.sessions() as session:
        actions = list(await session.scalars(select(AuditEvent.action)))
    assert actions.count("operation.requested") == 3
    assert actions.count("operation.started") == 3
    assert "operation.step" in actions and "operation.finished" in actions


async def test_with_bake_policy_propose_an_alert_posts_a_one_click_rollback(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: object
) -> None:
    from bot.config import Config

    assert isinstance(example_config, Config)
    data = example_config.model_dump(mode="json")
    data["deploy"]["services"]["api"]["environments"]["production"]["bake_policy"] = "propose"
    flow = Flow(await start_service(sqlite_url, config=Config.model_validate(data)), emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    shift = await flow.request_and_approve("/shift", "10")
    await flow.alert("P1")
    await flow.sweep()

    assert "Failed" in flow.header(shift) and "rollback request was posted" in flow.text(shift)
    assert (await flow.dryrun_state())["weights"] == {"blue": 90, "green": 10}
    proposal = flow.latest().ts
    assert "Roll back api/production to blue" in flow.header(proposal)
    await flow.react(proposal, APPROVERS[0])  # one click
    assert "Succeeded" in flow.header(proposal)
    assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}

"""Runbook steps that change things go through the operations' approval reactions.

End to end through the emulator: a signed Run click posts an approval request in the
alert's thread; signed reactions vote on it under the same rules as /deploy; on quorum the
step runs against the Kubernetes API test server, and the request and checklist show it.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from bot.approvals.models import RUNBOOK_STEP, ApprovalRequestRow
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.store import Message
from bot.storage.models import AuditEvent
from tests.conftest import RunningService, StartService
from tests.runbooks_flow.conftest import (
    CHANNEL,
    click,
    ephemerals,
    fire,
    open_checklist,
    progress,
    step_value,
    until,
    with_runbooks,
)
from tests.servers.kube_api import DEPLOYMENTS, KubeApiServer

REQUESTER = "U0000ONC01"
APPROVER = "U0000APR01"
OUTSIDER = "U0000OUT01"


def kube_changes(kube: KubeApiServer) -> list[object]:
    return [r for r in kube.requests if r.method in ("PATCH", "PUT", "POST", "DELETE")]


def replicas(kube: KubeApiServer) -> int:
    return int(kube.get(DEPLOYMENTS, "prod", "api-blue")["spec"]["replicas"])


def approval_of(emulator: SlackEmulator, alert: Message) -> Message | None:
    return next(
        (r for r in emulator.replies(CHANNEL, alert.ts) if "needs approval to run" in r.text),
        None,
    )


def header(emulator: SlackEmulator, message: Message) -> str:
    current = emulator.message(CHANNEL, message.ts)
    assert current is not None
    return str(current.blocks[0]["text"]["text"])


async def settle(bot: RunningService) -> None:
    for _ in range(3):
        await bot.service.operations.settle()
        await bot.settle()


async def react(
    bot: RunningService,
    emulator: SlackEmulator,
    message: Message,
    user: str,
    reaction: str = "white_check_mark",
    **kwargs: object,
) -> None:
    response = await emulator.send_reaction(
        user=user,
        reaction=reaction,
        channel=CHANNEL,
        ts=message.ts,
        **kwargs,  # type: ignore[arg-type]
    )
    assert response.status == 200
    await settle(bot)


async def request_scale(
    bot: RunningService, emulator: SlackEmulator
) -> tuple[Message, Message, Message]:
    """Fire the alert, open its checklist, click Run on scale-out: (alert, checklist,
    approval request)."""
    alert = await fire(bot, emulator)
    checklist = await open_checklist(bot, emulator, alert)
    await click(emulator, checklist, "run", step_value(checklist, "scale-out"), user=REQUESTER)
    request: Message = await until(bot, lambda: approval_of(emulator, alert))
    return alert, checklist, request


async def statuses(bot: RunningService) -> list[str]:
    async with bot.service.sessions() as session:
        rows = await session.scalars(
            select(ApprovalRequestRow.status).where(ApprovalRequestRow.kind == RUNBOOK_STEP)
        )
        return list(rows)


async def test_scale_runs_only_after_an_approvers_reaction(
    database_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    bot = await start_service(database_url, config=with_runbooks(example_config, kube, runbook_dir))
    alert, checklist, request = await request_scale(bot, emulator)

    assert request.thread_ts == alert.ts  # in the alert's thread
    assert header(emulator, request).startswith("⏳ Pending")
    assert "needs approval" in ephemerals(emulator, REQUESTER)[-1]
    assert not kube_changes(kube) and replicas(kube) == 2

    # The requester's own approval never counts; they are told why.
    await react(bot, emulator, request, REQUESTER)
    assert "Your own approval does not count" in ephemerals(emulator, REQUESTER)[-1]
    # Someone who is not an approver is ignored and told once.
    await react(bot, emulator, request, OUTSIDER)
    await react(bot, emulator, request, OUTSIDER, reaction="heavy_check_mark")
    told = [t for t in ephemerals(emulator, OUTSIDER) if "not an approver" in t]
    assert len(told) == 1
    assert header(emulator, request).startswith("⏳ Pending")
    assert not kube_changes(kube) and await statuses(bot) == ["Pending"]

    await react(bot, emulator, request, APPROVER)

    assert replicas(kube) == 5
    await until(bot, lambda: header(emulator, request).startswith("✅ Succeeded"))
    current = emulator.message(CHANNEL, checklist.ts)
    assert current is not None and "1/3 done" in progress(current)
    thread = [r.text for r in emulator.replies(CHANNEL, alert.ts)]
    assert any("to 5 replicas" in t for t in thread)
    assert await statuses(bot) == ["Succeeded"]
    async with bot.service.sessions() as session:
        actions = list(await session.scalars(select(AuditEvent.action)))
    for action in (
        "runbook.step.approval_requested",
        "runbook.step.approved",
        "runbook.step.run_approved",
        "runbook.step.ran",
        "runbook.step.approval_finished",
    ):
        assert action in actions
    # A vote after the run changes nothing and runs nothing again.
    patches = len(kube_changes(kube))
    await react(bot, emulator, request, "U0000APR02")
    assert len(kube_changes(kube)) == patches


async def test_a_rejection_runs_nothing(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    bot = await start_service(sqlite_url, config=with_runbooks(example_config, kube, runbook_dir))
    _, checklist, request = await request_scale(bot, emulator)

    await react(bot, emulator, request, APPROVER, reaction="x")
    await react(bot, emulator, request, "U0000APR02")

    assert header(emulator, request).startswith("⛔ Rejected")
    assert "Rejected by" in json.dumps(emulator.message(CHANNEL, request.ts).blocks)  # type: ignore[union-attr]
    assert not kube_changes(kube) and replicas(kube) == 2
    current = emulator.message(CHANNEL, checklist.ts)
    assert current is not None and "0/3 done" in progress(current)
    assert await statuses(bot) == ["Rejected"]


async def test_after_expiry_nothing_counts(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    bot = await start_service(sqlite_url, config=with_runbooks(example_config, kube, runbook_dir))
    _, _, request = await request_scale(bot, emulator)

    bot.clock.advance(example_config.deploy.request_ttl.total_seconds() + 1)
    await bot.service.operations.sweep()
    await settle(bot)
    assert header(emulator, request).startswith("⌛ Expired")

    await react(bot, emulator, request, APPROVER)

    assert header(emulator, request).startswith("⌛ Expired")
    assert not kube_changes(kube) and replicas(kube) == 2
    assert await statuses(bot) == ["Expired"]


async def test_redelivery_counts_once_and_removing_an_approval_withdraws_it(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    config = with_runbooks(example_config, kube, runbook_dir)
    section = config.runbooks.model_copy(update={"approvals": 2})
    bot = await start_service(sqlite_url, config=config.model_copy(update={"runbooks": section}))
    _, _, request = await request_scale(bot, emulator)

    await react(bot, emulator, request, APPROVER, event_id="Ev0APPROVE1")
    await react(bot, emulator, request, APPROVER, event_id="Ev0APPROVE1", retry_num=1)
    blocks = json.dumps(emulator.message(CHANNEL, request.ts).blocks)  # type: ignore[union-attr]
    assert "1 of 2" in blocks
    await react(bot, emulator, request, APPROVER, removed=True)
    blocks = json.dumps(emulator.message(CHANNEL, request.ts).blocks)  # type: ignore[union-attr]
    assert "0 of 2" in blocks
    await react(bot, emulator, request, "U0000APR02")
    assert header(emulator, request).startswith("⏳ Pending")
    assert not kube_changes(kube)

    await react(bot, emulator, request, APPROVER)
    assert replicas(kube) == 5
    await until(bot, lambda: header(emulator, request).startswith("✅ Succeeded"))


async def test_a_second_run_click_while_pending_posts_no_second_request(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    bot = await start_service(sqlite_url, config=with_runbooks(example_config, kube, runbook_dir))
    alert, checklist, _ = await request_scale(bot, emulator)

    await click(emulator, checklist, "run", step_value(checklist, "scale-out"), user="U0000APR03")
    await until(bot, lambda: ephemerals(emulator, "U0000APR03"))

    assert len(await statuses(bot)) == 1
    assert len([r for r in emulator.replies(CHANNEL, alert.ts) if "needs approval" in r.text]) == 1


async def test_a_scale_above_the_maximum_never_gets_a_request(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    config = with_runbooks(example_config, kube, runbook_dir, scale_max=3)
    bot = await start_service(sqlite_url, config=config)
    alert = await fire(bot, emulator)
    checklist = await open_checklist(bot, emulator, alert)

    await click(emulator, checklist, "run", step_value(checklist, "scale-out"), user=REQUESTER)

    text = (await until(bot, lambda: ephemerals(emulator, REQUESTER)))[-1]
    assert "above the maximum of 3 replicas" in text
    assert await statuses(bot) == []
    assert approval_of(emulator, alert) is None
    assert not kube_changes(kube)


async def test_oncall_limits_who_may_run_a_read_only_step(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    config = with_runbooks(example_config, kube, runbook_dir)
    section = config.runbooks.model_copy(update={"oncall": ["S0000ONCAL"]})
    bot = await start_service(sqlite_url, config=config.model_copy(update={"runbooks": section}))
    alert = await fire(bot, emulator)
    checklist = await open_checklist(bot, emulator, alert)

    await click(emulator, checklist, "run", step_value(checklist, "check-pods"), user=OUTSIDER)

    text = (await until(bot, lambda: ephemerals(emulator, OUTSIDER)))[-1]
    assert "Only the on-call group" in text and "Nothing was changed" in text
    assert not kube.requests
    # Done and Skip are theirs too: an outsider's Done changes nothing.
    await click(emulator, checklist, "done", step_value(checklist, "clean-up"), user=OUTSIDER)
    await until(bot, lambda: len(ephemerals(emulator, OUTSIDER)) == 2)
    assert "1/3 done" not in progress(emulator.message(CHANNEL, checklist.ts))  # type: ignore[arg-type]
    # A member of the on-call group may mark Done and Run.
    await click(emulator, checklist, "done", step_value(checklist, "clean-up"), user=REQUESTER)
    await click(emulator, checklist, "run", step_value(checklist, "check-pods"), user=REQUESTER)
    await until(bot, lambda: kube.requests)
    await until(
        bot,
        lambda: "2/3 done" in progress(emulator.message(CHANNEL, checklist.ts)),  # type: ignore[arg-type]
    )

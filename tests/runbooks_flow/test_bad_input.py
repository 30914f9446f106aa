"""Clicks the bot refuses: each answered to the clicker alone, and nothing is run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import AuditEvent
from tests.conftest import RunningService, StartService
from tests.runbooks_flow.conftest import (
    CHANNEL,
    click,
    fire,
    open_checklist,
    progress,
    step_value,
    until,
    with_runbooks,
)
from tests.servers.kube_api import KubeApiServer


def kube_changes(kube: KubeApiServer) -> list[object]:
    return [r for r in kube.requests if r.method in ("PATCH", "PUT", "POST", "DELETE")]


async def refused(bot: RunningService, emulator: SlackEmulator, user: str = "U0000ONC01") -> str:
    ephemerals = await until(
        bot, lambda: [e for e in emulator.ephemerals if e.ephemeral_user == user]
    )
    return str(ephemerals[-1].text)


async def test_a_step_button_of_another_alerts_checklist_changes_nothing(
    database_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    bot = await start_service(database_url, config=with_runbooks(example_config, kube, runbook_dir))
    first = await open_checklist(bot, emulator, await fire(bot, emulator))
    other_alert = await fire(bot, emulator, group_key='{}:{alertname="DiskFull",n="2"}')
    other = await open_checklist(bot, emulator, other_alert)

    # The second alert's button value, clicked on the first alert's checklist.
    await click(emulator, first, "run", step_value(other, "check-pods"))

    assert "belongs to another alert" in await refused(bot, emulator)
    assert not kube.requests
    for checklist in (first, other):
        current = emulator.message(CHANNEL, checklist.ts)
        assert current is not None and "0/3 done" in progress(current)


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        ({"namespace": "; rm -rf /"}, "not a valid Kubernetes name"),
        ({"deployment": "../../etc"}, "not a valid Kubernetes name"),
        ({"namespace": " "}, "is empty"),
    ],
)
async def test_a_template_filled_with_a_malicious_or_empty_value_runs_nothing(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
    labels: dict[str, str],
    problem: str,
) -> None:
    bot = await start_service(sqlite_url, config=with_runbooks(example_config, kube, runbook_dir))
    checklist = await open_checklist(bot, emulator, await fire(bot, emulator, labels=labels))

    await click(emulator, checklist, "run", step_value(checklist, "check-pods"))

    text = await refused(bot, emulator)
    assert "Cannot run *Check the pods*" in text and problem in text and "Nothing was run" in text
    assert not kube.requests
    async with bot.service.sessions() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert "runbook.step.refused" in actions and "runbook.step.run" not in actions


async def test_a_scale_above_the_maximum_is_refused_before_anything_runs(
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

    await click(emulator, checklist, "run", step_value(checklist, "scale-out"))

    text = await refused(bot, emulator)
    assert "5 is above the maximum of 3 replicas" in text and "Nothing was run" in text
    assert not kube_changes(kube)
    assert not [r for r in emulator.replies(CHANNEL, alert.ts) if "needs approval" in r.text]


async def test_a_step_that_changes_things_asks_for_approval_and_runs_nothing(
    database_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    bot = await start_service(database_url, config=with_runbooks(example_config, kube, runbook_dir))
    alert = await fire(bot, emulator)
    checklist = await open_checklist(bot, emulator, alert)

    await click(emulator, checklist, "run", step_value(checklist, "scale-out"), user="U0000APR01")

    request = await until(
        bot,
        lambda: next(
            (r for r in emulator.replies(CHANNEL, alert.ts) if "needs approval" in r.text), None
        ),
    )
    assert request.text.startswith("Pending") and "`replicas=5`" in request.text
    assert "nothing runs until it is approved" in str(request.blocks)
    assert "needs approval" in await refused(bot, emulator, "U0000APR01")
    assert not kube.requests
    current = emulator.message(CHANNEL, checklist.ts)
    assert current is not None and "0/3 done" in progress(current)
    async with bot.service.sessions() as session:
        event = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "runbook.step.approval_requested")
            )
        ).one()
    assert event.actor == "U0000APR01"
    assert event.details["params"] == {"namespace": "prod", "deployment": "api-blue", "replicas": 5}


async def test_tampered_step_buttons_are_refused(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    bot = await start_service(sqlite_url, config=with_runbooks(example_config, kube, runbook_dir))
    checklist = await open_checklist(bot, emulator, await fire(bot, emulator))
    good = step_value(checklist, "check-pods")
    for value in ("x" * 300, good.replace("check-pods", "no-such-step"), good + "|extra", ""):
        await click(emulator, checklist, "run", value)
    await until(bot, lambda: len(emulator.ephemerals) == 4)
    assert not kube.requests

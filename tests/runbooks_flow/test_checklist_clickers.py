"""Done, Skip and Run on a checklist are for the people who may act on its alert, even
when `runbooks.oncall` is unset: the alert's responders (its route's `responders`, else
`alerts.responders`). Anyone else is told so, alone, and nothing changes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from alerts.config import Route
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
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
from tests.servers.kube_api import KubeApiServer

RESPONDER = "U0000ONC01"  # in S0000ONCAL, the example's alerts.responders
OUTSIDER = "U0000OUT01"


def shown_progress(emulator: SlackEmulator, ts: str) -> str:
    message = emulator.message(CHANNEL, ts)
    assert message is not None
    return progress(message)


async def refusals(bot: RunningService) -> list[AuditEvent]:
    async with bot.service.sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == "runbook.step.refused")
        return list((await session.scalars(query)).all())


async def test_without_oncall_only_the_alerts_responders_may_mark_done_skip_or_run(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    config = with_runbooks(example_config, kube, runbook_dir)
    assert config.runbooks.oncall is None and config.alerts.responders == ["S0000ONCAL"]
    bot = await start_service(sqlite_url, config=config)
    alert = await fire(bot, emulator)
    checklist = await open_checklist(bot, emulator, alert)
    before = shown_progress(emulator, checklist.ts)

    await click(emulator, checklist, "done", step_value(checklist, "clean-up"), user=OUTSIDER)
    await click(emulator, checklist, "skip", step_value(checklist, "scale-out"), user=OUTSIDER)
    await click(emulator, checklist, "run", step_value(checklist, "check-pods"), user=OUTSIDER)
    await until(bot, lambda: len(ephemerals(emulator, OUTSIDER)) == 3)
    assert all(
        "responders" in t and "Nothing was changed" in t for t in ephemerals(emulator, OUTSIDER)
    )
    assert shown_progress(emulator, checklist.ts) == before
    assert not kube.requests
    assert len(await refusals(bot)) == 3

    await click(emulator, checklist, "done", step_value(checklist, "clean-up"), user=RESPONDER)
    await until(bot, lambda: "1/3 done" in shown_progress(emulator, checklist.ts))
    assert not ephemerals(emulator, RESPONDER)


async def test_a_routes_own_responders_decide_for_its_checklists(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    config = with_runbooks(example_config, kube, runbook_dir)
    # The catch-all route (where the test alert goes) names one user; alerts.responders
    # (S0000ONCAL, which holds RESPONDER) no longer counts for it.
    routes = [*config.alerts.routes[:-1], Route(channel=CHANNEL, responders=[OUTSIDER])]
    alerts = config.alerts.model_copy(update={"routes": routes})
    bot = await start_service(sqlite_url, config=config.model_copy(update={"alerts": alerts}))
    alert = await fire(bot, emulator)
    checklist = await open_checklist(bot, emulator, alert)

    await click(emulator, checklist, "done", step_value(checklist, "clean-up"), user=RESPONDER)
    await until(bot, lambda: ephemerals(emulator, RESPONDER))
    assert "0/3 done" in shown_progress(emulator, checklist.ts)
    await click(emulator, checklist, "done", step_value(checklist, "clean-up"), user=OUTSIDER)
    await until(bot, lambda: "1/3 done" in shown_progress(emulator, checklist.ts))

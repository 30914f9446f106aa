"""The runbook checklist in an alert's thread, clicked through signed Slack requests."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import Config
from bot.runbooks.models import RunbookStepProgress
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.store import Message
from bot.storage.models import AlertGroup, AuditEvent
from tests.conftest import StartService
from tests.runbooks_flow.conftest import (
    CHANNEL,
    click,
    fire,
    open_checklist,
    progress,
    step_value,
    text_of,
    until,
    with_runbooks,
)
from tests.servers.kube_api import KubeApiServer


async def test_an_alert_names_its_runbook_and_one_without_says_none_covers_it(
    database_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
) -> None:
    bot = await start_service(database_url, config=with_runbooks(example_config, kube))
    linked = await fire(bot, emulator, annotations={"runbook": "SCALING"})
    unlinked = await fire(
        bot, emulator, group_key='{}:{alertname="Other"}', labels={"alertname": "Other"}
    )

    assert "runbook.open" in text_of(linked)
    assert "No runbook covers this alert" not in text_of(linked)
    assert "runbook.open" not in text_of(unlinked)
    assert "No runbook covers this alert" in text_of(unlinked)
    async with bot.service.sessions() as session:
        groups = (await session.scalars(select(AlertGroup).order_by(AlertGroup.id))).all()
    assert [g.runbook_id for g in groups] == ["SCALING", None]


async def test_an_alert_that_is_p1_through_the_severity_map_gets_the_p0_p1_fallback(
    database_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
) -> None:
    config = with_runbooks(example_config, kube)
    alerts = config.alerts.model_copy(update={"severity_map": {"sev2": "P1"}})
    bot = await start_service(database_url, config=config.model_copy(update={"alerts": alerts}))

    message = await fire(
        bot,
        emulator,
        group_key='{}:{alertname="QueueStuck"}',
        labels={"alertname": "QueueStuck", "severity": "sev2"},
    )

    assert "runbook.open" in text_of(message)
    async with bot.service.sessions() as session:
        group = (await session.scalars(select(AlertGroup))).one()
    assert (group.priority, group.runbook_id) == ("P1", "incident_response")


async def test_the_checklist_is_posted_in_the_thread_and_done_and_skip_update_it_in_place(
    database_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
) -> None:
    bot = await start_service(database_url, config=with_runbooks(example_config, kube))
    alert = await fire(bot, emulator, annotations={"runbook": "SCALING"})

    checklist = await open_checklist(bot, emulator, alert)
    assert checklist.thread_ts == alert.ts
    assert "0/8 done" in progress(checklist)
    assert "runbook.step.run" in text_of(checklist)

    await click(emulator, checklist, "done", step_value(checklist, "check-pods"))
    await until(bot, lambda: "1/8 done" in _progress_now(emulator, checklist))
    await click(
        emulator, checklist, "skip", step_value(checklist, "check-live-colour"), user="U0000APR01"
    )
    updated = await until(
        bot,
        lambda: (m := emulator.message(CHANNEL, checklist.ts)) and "1 skipped" in progress(m) and m,
    )

    assert "Done by <@U0000ONC01>" in text_of(updated)
    assert "Skipped by <@U0000APR01>" in text_of(updated)
    assert [
        r.ts for r in emulator.replies(CHANNEL, alert.ts) if "runbook-progress" in text_of(r)
    ] == [checklist.ts]  # one checklist, updated in place
    async with bot.service.sessions() as session:
        events = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.actor).where(
                    AuditEvent.action.like("runbook.%")
                )
            )
        ).all()
    assert ("runbook.opened", "U0000ONC01") in events
    assert ("runbook.step.done", "U0000ONC01") in events
    assert ("runbook.step.skipped", "U0000APR01") in events


async def test_run_on_k8s_pods_posts_the_pod_list_from_the_kubernetes_api(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
) -> None:
    bot = await start_service(sqlite_url, config=with_runbooks(example_config, kube))
    alert = await fire(bot, emulator, annotations={"runbook": "SCALING"})
    checklist = await open_checklist(bot, emulator, alert)

    await click(emulator, checklist, "run", step_value(checklist, "check-pods"), user="U0000APR01")
    output = await until(
        bot,
        lambda: next(
            (r for r in emulator.replies(CHANNEL, alert.ts) if "pod(s) of" in r.text), None
        ),
    )

    pods = sorted(p["metadata"]["name"] for p in kube.pods("prod", "api-blue"))
    assert pods and all(name in output.text for name in pods)
    assert "Running" in output.text and "<@U0000APR01>" in output.text
    assert kube.requests_for("GET", "/namespaces/prod/pods")
    updated = emulator.message(CHANNEL, checklist.ts)
    assert updated is not None and "1/8 done" in progress(updated)


async def test_finishing_the_runbook_posts_who_did_what_and_how_long(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    clock = FakeClock()
    config = with_runbooks(example_config, kube, runbook_dir)
    bot = await start_service(sqlite_url, config=config, clock=clock)
    alert = await fire(bot, emulator)  # linked by applies_to: alertname="DiskFull"
    checklist = await open_checklist(bot, emulator, alert)

    steps = [
        ("done", "check-pods", "U0000ONC01", "1/3 done"),
        ("skip", "scale-out", "U0000APR01", "1 skipped"),
        ("done", "clean-up", "U0000ONC01", "2/3 done"),
    ]
    for minutes, (action, step, user, shown) in enumerate(steps, start=1):
        clock.advance(60 * minutes)
        await click(emulator, checklist, action, step_value(checklist, step), user=user)
        await until(bot, partial(_shows, emulator, checklist, shown))

    summary = await until(
        bot,
        lambda: next(
            (r for r in emulator.replies(CHANNEL, alert.ts) if "Runbook finished" in r.text),
            None,
        ),
    )
    text = text_of(summary)
    assert "<@U0000ONC01> (2)" in text and "<@U0000APR01> (1)" in text
    assert "6m" in text  # 1 + 2 + 3 minutes from opening to the last step


def _shows(emulator: SlackEmulator, checklist: Message, text: str) -> bool:
    return text in _progress_now(emulator, checklist)


def _progress_now(emulator: SlackEmulator, checklist: Message) -> str:
    current = emulator.message(CHANNEL, checklist.ts)
    return progress(current) if current else ""


async def test_progress_survives_a_restart_and_a_changed_runbook_makes_old_buttons_stale(
    database_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    config = with_runbooks(example_config, kube, runbook_dir)
    first = await start_service(database_url, config=config)
    alert = await fire(first, emulator)
    checklist = await open_checklist(first, emulator, alert)
    old_clean_up = step_value(checklist, "clean-up")
    await click(emulator, checklist, "done", step_value(checklist, "check-pods"))
    await until(first, lambda: "1/3 done" in _progress_now(emulator, checklist))
    await first.stop()

    # The runbook's steps change while the bot is down.
    path = runbook_dir / "DISK.md"
    path.write_text(path.read_text().replace("Clean up old files", "Clean up old log files"))
    second = await start_service(database_url, config=config)
    await click(emulator, checklist, "done", old_clean_up)
    [stale] = await until(second, lambda: emulator.ephemerals)
    assert "changed since this checklist was posted" in stale.text
    refreshed = await until(
        second,
        lambda: (
            (m := emulator.message(CHANNEL, checklist.ts)) and "old log files" in text_of(m) and m
        ),
    )
    assert "1/3 done" in progress(refreshed)  # the progress from before the restart

    await click(emulator, refreshed, "done", step_value(refreshed, "clean-up"))
    await until(second, lambda: "2/3 done" in _progress_now(emulator, checklist))
    async with second.service.sessions() as session:
        states = dict(
            (
                await session.execute(
                    select(RunbookStepProgress.step_id, RunbookStepProgress.state)
                )
            ).all()
        )
    assert states == {"check-pods": "done", "clean-up": "done"}

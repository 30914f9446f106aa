"""`chatops runbooks lint|coverage` through the real CLI, a broken runbook stopping the
service, and the entry point the approval flow will call once a step is approved."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Config
from bot.runbooks.approval_request import StepApprovalRequest
from bot.runbooks.config import RunbooksConfig
from bot.sandbox.emulator import SlackEmulator
from bot.service import Service, StartupError
from tests.conftest import StartService, make_settings
from tests.runbooks_flow.conftest import (
    CHANNEL,
    DISK_RUNBOOK,
    fire,
    open_checklist,
    progress,
    until,
    with_runbooks,
)
from tests.servers.kube_api import DEPLOYMENTS, KubeApiServer

BROKEN = Path(__file__).resolve().parents[1] / "runbooks" / "broken"


def test_lint_passes_on_the_shipped_runbooks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runbooks", "lint"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("OK: ") and out.endswith(" runbooks")  # the shipped set grows


def test_lint_fails_on_a_broken_runbook_naming_file_and_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["runbooks", "lint", str(BROKEN / "unknown_key")]) == 1
    out = capsys.readouterr().out
    assert "unknown_key.md:8: steps.0.actoin: unknown key" in out


async def test_coverage_lists_stored_alerts_that_no_runbook_covers(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bot = await start_service(sqlite_url, config=with_runbooks(example_config, kube))
    # Covered by annotation only: a bare-name check would wrongly call it uncovered.
    await fire(bot, emulator, annotations={"runbook": "SCALING"})
    await fire(bot, emulator, group_key='{}:{alertname="Other"}', labels={"alertname": "Other"})
    monkeypatch.setenv("DATABASE_URL", sqlite_url)

    code = await asyncio.to_thread(main, ["runbooks", "coverage"])

    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out == ["no runbook: Other", "1 of 2 alert name(s) covered"]


async def test_a_broken_runbook_stops_the_service_naming_file_and_line(
    sqlite_url: str, emulator: SlackEmulator, example_config: Config, tmp_path: Path
) -> None:
    (tmp_path / "DISK.md").write_text(DISK_RUNBOOK.replace("type: k8s.pods", "type: k8s.podz"))
    config = example_config.model_copy(update={"runbooks": RunbooksConfig(directory=str(tmp_path))})
    with pytest.raises(StartupError) as failure:
        Service(make_settings(sqlite_url, emulator), config)
    assert "DISK.md:11:" in str(failure.value) and "k8s.podz" in str(failure.value)


async def test_an_approved_scale_runs_through_the_hook_after_rechecking(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    kube: KubeApiServer,
    runbook_dir: Path,
) -> None:
    """What the reaction flow calls on quorum: it re-checks the parameters before it runs."""
    bot = await start_service(sqlite_url, config=with_runbooks(example_config, kube, runbook_dir))
    alert = await fire(bot, emulator)
    checklist = await open_checklist(bot, emulator, alert)
    runbook = bot.service.runbooks.runbooks["DISK"]
    request = StepApprovalRequest(
        alert_group_id=1,
        channel=CHANNEL,
        runbook_id="DISK",
        runbook_version=runbook.version,
        step_id="scale-out",
        step_title="Scale out",
        action_type="k8s.scale",
        params={"namespace": "prod", "deployment": "api-blue", "replicas": 5},
        requested_by="U0000ONC01",
        requested_at=datetime.now().astimezone(),
        changes_things=True,
        requires_approval=False,
        thread_key="alert-group:1",
    )

    stale = await bot.service.runbooks.steps.run_approved(
        StepApprovalRequest(**{**request.__dict__, "params": {**request.params, "replicas": 6}}),
        approved_by="U0000APR01",
    )
    assert not stale.ok and not kube.requests

    answer = await bot.service.runbooks.steps.run_approved(request, approved_by="U0000APR01")

    assert answer.ok
    assert kube.get(DEPLOYMENTS, "prod", "api-blue")["spec"]["replicas"] == 5
    await until(
        bot,
        lambda: any("to 5 replicas" in r.text for r in emulator.replies(CHANNEL, alert.ts)),
    )
    current = emulator.message(CHANNEL, checklist.ts)
    assert current is not None and "1/3 done" in progress(current)

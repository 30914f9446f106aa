"""`chatops check-config` names a schedule PagerDuty does not know, when it can ask."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import BUNDLED_EXAMPLE
from tests.servers.pagerduty import PagerDutyServer

SCHEDULES = "  schedules: {api: PSCHED1, payments: PSCHED9}"


async def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    def run() -> int:
        try:
            return main(["check-config", str(path)])
        except SystemExit as exc:
            return int(exc.code or 0)

    code = await asyncio.to_thread(run)
    return code, capsys.readouterr().err


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "chatops.yaml"
    lines = BUNDLED_EXAMPLE.read_text().splitlines()
    [at] = [i for i, line in enumerate(lines) if line.startswith("  schedules: {api: PSCHED1}")]
    lines[at] = SCHEDULES  # the example's schedule, and one PagerDuty does not know
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_a_schedule_pagerduty_does_not_know_is_a_problem_with_its_line(
    account: PagerDutyServer,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", account.api_token)
    monkeypatch.setenv("PAGERDUTY_API_URL", account.url)
    code, err = await check(config_file, capsys)
    assert code == 2
    line = config_file.read_text().splitlines().index(SCHEDULES) + 1
    assert f"line {line}: oncall.schedules.payments: PagerDuty has no schedule PSCHED9" in err
    assert "oncall.schedules.api" not in err
    assert [c.path for c in account.calls_to("/schedules/PSCHED1")] == ["/schedules/PSCHED1"]


async def test_without_a_token_the_schedules_are_not_checked_and_it_says_so(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAGERDUTY_API_TOKEN", raising=False)
    code, err = await check(config_file, capsys)
    assert code == 0
    assert "oncall.schedules not checked against PagerDuty (no PAGERDUTY_API_TOKEN)" in err

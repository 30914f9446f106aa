"""`chatops runbooks lint [DIR]` and `chatops runbooks coverage`."""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Iterable
from pathlib import Path

import pytest

from alerts.policy import DefaultPriorityRules
from alerts.runbooks import load_runbooks, runbook_files
from bot.runbooks.cli import (
    DEFAULT_DIRECTORY,
    add_runbooks_commands,
    coverage,
    lint,
    uncovered_alerts,
)

BROKEN = Path(__file__).parent / "broken"
# The seed's five and whatever runbooks are shipped beside them.
SHIPPED_OK = f"OK: {len(runbook_files(DEFAULT_DIRECTORY))} runbooks"


def run_lint(directory: Path | None) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = lint(directory, out=out)
    return code, out.getvalue().splitlines()


def parser(
    alert_names: Iterable[str] | None = None,
    *,
    stored: list[tuple[dict[str, str], dict[str, str]]] | None = None,
    rules: DefaultPriorityRules | None = None,
) -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="chatops")
    sub = root.add_subparsers(dest="command", required=True)
    add_runbooks_commands(
        sub,
        alert_names=(lambda: alert_names) if alert_names else None,
        alerts=(lambda: stored) if stored else None,
        priority_rules=(lambda: rules) if rules else None,
    )
    return root


def test_lint_passes_on_the_shipped_runbooks() -> None:
    assert run_lint(None) == (0, [SHIPPED_OK])
    assert run_lint(DEFAULT_DIRECTORY) == (0, [SHIPPED_OK])


def test_lint_fails_on_a_broken_runbook_naming_file_and_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(BROKEN.parent.parent.parent)  # the repository: paths print relative

    code, lines = run_lint(BROKEN / "unknown_key")

    assert code == 1
    assert lines == [
        "tests/runbooks/broken/unknown_key/unknown_key.md:8: steps.0.actoin: unknown key",
        "1 problem(s) in tests/runbooks/broken/unknown_key",
    ]


def test_lint_fails_on_a_missing_or_empty_directory(tmp_path: Path) -> None:
    code, lines = run_lint(tmp_path / "nope")
    assert code == 2 and "is not a directory" in lines[0]

    (tmp_path / "README.md").write_text("# only a readme\n")
    code, lines = run_lint(tmp_path)
    assert code == 1 and "no runbooks" in lines[0]


def test_lint_through_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["runbooks", "lint", str(BROKEN / "duplicate_step")])

    assert args.func(args) == 1
    assert "duplicate step id 'check-pods' (first on line 5)" in capsys.readouterr().out

    args = parser().parse_args(["runbooks", "lint"])
    assert args.func(args) == 0


def test_coverage_lists_alert_names_no_runbook_covers() -> None:
    runbooks = load_runbooks(DEFAULT_DIRECTORY)

    names = ["PostgresDown", "DiskFilling", "RedisDown", "DiskFilling", "APIDown"]

    # By name alone: DATABASE_ISSUES matches alert names only; the others need more labels.
    assert coverage(names, runbooks) == ["DiskFilling", "APIDown"]


def test_coverage_of_stored_alerts_follows_linking() -> None:
    runbooks = load_runbooks(DEFAULT_DIRECTORY)
    alerts = [
        ({"alertname": "APIDown", "priority": "P0"}, {}),
        ({"alertname": "APIHighLatency", "service": "api"}, {}),
        ({"alertname": "DiskFilling", "priority": "P3"}, {}),
        ({"alertname": "Custom"}, {"runbook": "SCALING"}),
    ]

    assert uncovered_alerts(alerts, runbooks) == ["DiskFilling"]


def test_coverage_counts_a_p1_through_the_severity_map_as_covered_by_the_fallback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stored = [
        ({"alertname": "QueueStuck", "severity": "error"}, {}),
        ({"alertname": "QueueSlow", "severity": "warning"}, {}),
    ]
    args = parser(stored=stored).parse_args(["runbooks", "coverage"])

    assert args.func(args) == 1
    assert capsys.readouterr().out.splitlines() == [
        "no runbook: QueueSlow",
        "1 of 2 alert name(s) covered",
    ]


def test_coverage_derives_priorities_with_the_configs_severity_map(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stored = [({"alertname": "QueueSlow", "level": "sev2"}, {})]
    rules = DefaultPriorityRules(severity_label="level", severity_map={"sev2": "P1"})
    args = parser(stored=stored, rules=rules).parse_args(["runbooks", "coverage"])

    assert args.func(args) == 0
    assert capsys.readouterr().out.splitlines() == ["1 of 1 alert name(s) covered"]


def test_coverage_through_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(
        ["runbooks", "coverage", "--alertname", "PostgresDown", "--alertname", "DiskFilling"]
    )

    assert args.func(args) == 1
    assert capsys.readouterr().out.splitlines() == [
        "no runbook: DiskFilling",
        "1 of 2 alert name(s) covered",
    ]


def test_coverage_reads_names_from_the_source_the_bot_wires(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parser(["RedisDown", "CacheHitRatioLow"]).parse_args(["runbooks", "coverage"])

    assert args.func(args) == 0
    assert capsys.readouterr().out.splitlines() == ["2 of 2 alert name(s) covered"]


def test_coverage_without_names_says_how_to_give_them(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["runbooks", "coverage"])

    assert args.func(args) == 2
    assert "--alertname" in capsys.readouterr().err


def test_the_default_directory_is_the_repositorys_runbooks() -> None:
    assert DEFAULT_DIRECTORY == Path(__file__).resolve().parents[2] / "runbooks"
    assert os.path.isfile(DEFAULT_DIRECTORY / "README.md")


def test_an_installed_wheel_finds_the_runbooks_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import bot.runbooks.cli as cli

    monkeypatch.setattr(cli, "DEFAULT_DIRECTORY", tmp_path / "site-packages" / "runbooks")
    monkeypatch.chdir(DEFAULT_DIRECTORY.parent)

    assert cli.default_directory() == Path("runbooks")
    assert run_lint(None) == (0, [SHIPPED_OK])


SSRF_RUNBOOK = """---
id: PROBE
title: Probe
steps:
  - id: probe
    title: Probe what the alert names
    detail: d
    action:
      type: http.check
      params: {url: "http://{{ annotations.target }}/latest/meta-data/"}
  - id: pods
    title: Pods of the alert's workload
    detail: d
    action:
      type: k8s.pods
      params: {namespace: "{{ labels.namespace }}", workload: "{{ labels.deployment }}"}
  - id: path-only
    title: A fixed host, a path from the alert
    detail: d
    action:
      type: http.check
      params: {url: "https://sam.sergas.example/{{ labels.check }}"}
---

# Probe
"""


def test_lint_flags_alert_data_picking_a_host_or_target_without_an_allow_list(
    tmp_path: Path,
) -> None:
    from bot.runbooks.config import RunbooksConfig

    (tmp_path / "PROBE.md").write_text(SSRF_RUNBOOK)
    out = io.StringIO()
    assert lint(tmp_path, out=out, config=RunbooksConfig()) == 1
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("3 problem(s)")
    assert "step probe: `url`" in lines[0] and "runbooks.http_hosts is empty" in lines[0]
    assert "step pods: `namespace`" in lines[1] and "runbooks.targets is empty" in lines[1]
    assert not any("path-only" in line for line in lines)

    allowed = RunbooksConfig(targets={"sergas": ["*"]}, http_hosts=["sam.sergas.example"])
    assert lint(tmp_path, out=io.StringIO(), config=allowed) == 0


def test_lint_flags_a_route_whose_own_allow_list_is_empty(tmp_path: Path) -> None:
    from alerts.allow_lists import RouteRunbooks
    from bot.config import BUNDLED_EXAMPLE, load_config
    from bot.runbooks.config import RunbooksConfig

    (tmp_path / "PROBE.md").write_text(SSRF_RUNBOOK)
    alerts = load_config(BUNDLED_EXAMPLE).alerts
    allowed = RunbooksConfig(targets={"sergas": ["app=sam"]}, http_hosts=["sam.sergas.example"])
    assert lint(tmp_path, out=io.StringIO(), config=allowed, alerts=alerts) == 0

    # The payments route's own, empty targets replace runbooks.targets for its alerts.
    own = RouteRunbooks(targets={}, http_hosts=["pay.example"])
    routes = [alerts.routes[0].model_copy(update={"runbooks": own}), *alerts.routes[1:]]
    out = io.StringIO()
    narrowed = alerts.model_copy(update={"routes": routes})
    assert lint(tmp_path, out=out, config=allowed, alerts=narrowed) == 1
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("2 problem(s)")
    assert "step pods: `namespace`" in lines[0] and "step pods: `workload`" in lines[1]
    assert all("alerts.routes[0].runbooks.targets is empty" in line for line in lines[:2])


def test_an_allow_list_entry_must_be_a_name_a_star_or_a_label_selector() -> None:
    from pydantic import ValidationError

    from bot.runbooks.config import RunbooksConfig

    RunbooksConfig(targets={"prod": ["api-blue", "*", "app=api,tier=web"]})
    for bad in ({"prod": ["Api Blue"]}, {"prod": ["app=="]}, {"Prod": ["*"]}, {"p": ["=x"]}):
        with pytest.raises(ValidationError):
            RunbooksConfig(targets=bad)

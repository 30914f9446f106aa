"""`chatops runbooks lint [DIR]` and `chatops runbooks coverage`.

Lint runs in CI and before a pull request, so that a broken runbook fails there rather
than stopping `chatops serve` (which loads the same way). Coverage answers "which of our
alerts would fire with no runbook?"; the alert names come from the database, which the
caller supplies, so this module stays free of storage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from alerts.config import AlertsConfig
from alerts.policy import DefaultPriorityRules, PriorityRules
from alerts.runbooks.linking import find_runbook
from alerts.runbooks.loader import RunbookError, load_runbooks, runbook_files
from alerts.runbooks.model import RunbookSet
from alerts.runbooks.specs import SPECS
from alerts.runbooks.targets import route_scopes, unbounded_targets
from bot.config import BUNDLED_EXAMPLE, Config, load_config
from bot.runbooks.config import RunbooksConfig
from bot.terminal import say, shown

# The runbooks shipped beside the package (source checkout, editable install, image).
DEFAULT_DIRECTORY = Path(__file__).resolve().parents[2] / "runbooks"

AlertNameSource = Callable[[], Iterable[str]]
# Stored alerts as (labels, annotations): coverage then answers exactly as linking does.
AlertSource = Callable[[], Iterable[tuple[Mapping[str, str], Mapping[str, str]]]]
# The config's priority derivation, read only when coverage runs.
RulesSource = Callable[[], PriorityRules]


def default_directory() -> Path:
    """The shipped runbooks; from a wheel install (the Docker image) they sit in the
    working directory instead, since wheels carry packages only."""
    if DEFAULT_DIRECTORY.is_dir() or not Path("runbooks").is_dir():
        return DEFAULT_DIRECTORY
    return Path("runbooks")


def _shown(path: Path) -> Path:
    # Relative paths keep problems short and clickable in editors and CI logs.
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def lint(
    directory: Path | None = None,
    *,
    out: TextIO | None = None,
    config: RunbooksConfig | None = None,
    alerts: AlertsConfig | None = None,
) -> int:
    """Print `OK: N runbooks` or every problem as `file:line: message`; 1 on a problem.

    `config`'s allow-lists and those of `alerts`' routes (default: CHATOPS_CONFIG's, else
    the bundled example's) decide whether a step may let alert data pick its target or
    host."""
    out = out or sys.stdout
    folder = _shown(directory if directory is not None else default_directory())
    if not folder.is_dir():
        say(f"error: {folder} is not a directory", file=out)
        return 2
    if not runbook_files(folder):
        say(f"error: no runbooks (*.md other than README.md) in {folder}", file=out)
        return 1
    try:
        runbooks = load_runbooks(folder)
    except RunbookError as exc:
        for problem in exc.problems:
            say(problem, file=out)
        say(f"{len(exc.problems)} problem(s) in {folder}", file=out)
        return 1
    if config is None:
        loaded = _config()
        config, alerts = loaded.runbooks, loaded.alerts
    scopes = route_scopes(alerts, config.targets, config.http_hosts)
    unbounded = unbounded_targets(list(runbooks), SPECS, scopes)
    if unbounded:
        for problem in unbounded:
            say(problem, file=out)
        say(f"{len(unbounded)} problem(s) in {folder}", file=out)
        return 1
    say(f"OK: {len(runbooks)} runbooks", file=out)
    return 0


def coverage(
    alert_names: Iterable[str],
    runbooks: RunbookSet,
    rules: PriorityRules = DefaultPriorityRules(),  # noqa: B008 - frozen, never mutated
) -> list[str]:
    """Alert names no runbook covers by labels {alertname: name}, each once, in order.

    A name alone is a narrow view: a runbook whose `applies_to` also needs
    `service="api"` does not cover the bare name. When the stored alerts' labels and
    annotations are at hand, `uncovered_alerts` answers exactly as linking does.
    """
    return [
        name
        for name in dict.fromkeys(alert_names)
        if find_runbook({"alertname": name}, {}, runbooks, rules) is None
    ]


def uncovered_alerts(
    alerts: Iterable[tuple[Mapping[str, str], Mapping[str, str]]],
    runbooks: RunbookSet,
    rules: PriorityRules = DefaultPriorityRules(),  # noqa: B008 - frozen, never mutated
) -> list[str]:
    """Names of alerts (labels, annotations) that would be posted without a runbook, with
    their priority derived as intake derives it (a P1 through the severity map is a P1)."""
    names = (
        labels.get("alertname", "")
        for labels, annotations in alerts
        if find_runbook(labels, annotations, runbooks, rules) is None
    )
    return list(dict.fromkeys(names))


def _config() -> Config:
    path = Path(os.environ.get("CHATOPS_CONFIG", "chatops.yaml"))
    return load_config(path if path.is_file() else BUNDLED_EXAMPLE)


def _cmd_lint(args: argparse.Namespace) -> int:
    return lint(Path(args.directory) if args.directory else None)


def _cmd_coverage(
    args: argparse.Namespace,
    source: AlertNameSource | None,
    alerts_source: AlertSource | None = None,
    rules_source: RulesSource | None = None,
) -> int:
    names = list(args.alertname or [])
    stored: list[tuple[Mapping[str, str], Mapping[str, str]]] = []
    if not names and alerts_source is not None:
        stored = list(alerts_source())
        names = [labels.get("alertname", "") for labels, _ in stored]
    if not names and source is not None:
        names = list(source())
    if not names:
        say("error: no alert names: pass --alertname NAME (repeatable)", file=sys.stderr)
        return 2
    try:
        runbooks = load_runbooks(Path(args.directory) if args.directory else default_directory())
    except RunbookError as exc:
        say("error: the runbooks do not load; run `chatops runbooks lint`", file=sys.stderr)
        for problem in exc.problems:
            say(f"  {problem}", file=sys.stderr)
        return 2
    rules = rules_source() if rules_source is not None else DefaultPriorityRules()
    uncovered = (
        uncovered_alerts(stored, runbooks, rules) if stored else coverage(names, runbooks, rules)
    )
    for name in uncovered:
        say(f"no runbook: {shown(name)}")
    covered = len(dict.fromkeys(names)) - len(uncovered)
    say(f"{covered} of {covered + len(uncovered)} alert name(s) covered")
    return 1 if uncovered else 0


def add_runbooks_commands(
    sub: Any,
    *,
    alert_names: AlertNameSource | None = None,
    alerts: AlertSource | None = None,
    priority_rules: RulesSource | None = None,
) -> None:
    """Register `runbooks lint [DIR]` and `runbooks coverage` on the CLI's subparsers.

    When no --alertname is given, `alerts` supplies the stored alerts (labels and
    annotations, linked exactly as intake links them), else `alert_names` the names;
    `priority_rules` gives the config's priority derivation (default: the built-in one).
    """
    runbooks = sub.add_parser("runbooks", help="check the runbooks")
    actions = runbooks.add_subparsers(dest="runbooks_command", required=True)

    lint_parser = actions.add_parser("lint", help="validate every runbook; non-zero on a problem")
    lint_parser.add_argument("directory", nargs="?", help="default: the shipped runbooks/")
    lint_parser.set_defaults(func=_cmd_lint)

    cover = actions.add_parser("coverage", help="list alert names that no runbook covers")
    cover.add_argument("--alertname", action="append", help="an alert name (repeatable)")
    cover.add_argument("--dir", dest="directory", help="default: the shipped runbooks/")
    cover.set_defaults(func=lambda args: _cmd_coverage(args, alert_names, alerts, priority_rules))

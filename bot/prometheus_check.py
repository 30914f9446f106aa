"""Checking bake analysis queries when the config is checked, not at the first bake.

A PromQL typo would otherwise show up as a failed bake that rolls a release back. Each
query is filled in as a bake would fill it and parsed by `promtool check rules` (Debian's
`prometheus` package ships it), else by the Prometheus at `PROMETHEUS_URL` (its query
API answers `bad_data` to a query it cannot parse). With neither, the queries are not
checked and `check-config` says so: a bad query is then reported in the thread of the
first bake, where it counts as a failed run.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess  # nosec B404 - runs promtool with a fixed argument list
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml

from actions.prometheus import PrometheusClient, PrometheusError
from bot.config import Config, line_of

SAMPLE_COLOUR = "green"


@dataclass(frozen=True)
class Query:
    key: str
    expr: str


@dataclass
class QueryReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def analysed_environments(config: Config) -> list[str]:
    return [
        f"{service}/{name}"
        for service, svc in config.deploy.services.items()
        for name, env in svc.environments.items()
        if env.analysis is not None
    ]


def queries(config: Config) -> list[Query]:
    found = []
    for service, svc in config.deploy.services.items():
        for name, env in svc.environments.items():
            if env.analysis is None:
                continue
            for index, check in enumerate(env.analysis.checks):
                expr = check.render(
                    service=service,
                    environment=name,
                    colour=SAMPLE_COLOUR,
                    window=env.analysis.window,
                )
                key = f"deploy.services.{service}.environments.{name}.analysis.checks.{index}.query"
                found.append(Query(key, expr))
    return found


def promtool_problem(promtool: str, expr: str) -> str | None:
    """Why promtool cannot parse `expr` as a rule expression, or None when it can."""
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "analysis.yml"
        # A JSON string is a valid YAML double-quoted scalar: no escaping surprises.
        rules.write_text(
            "groups:\n  - name: analysis\n    rules:\n"
            f"      - record: chatops_analysis_check\n        expr: {json.dumps(expr)}\n"
        )
        done = subprocess.run(  # noqa: S603  # nosec B603 - fixed arguments, no shell
            [promtool, "check", "rules", str(rules)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    if done.returncode == 0:
        return None
    output = (done.stderr + done.stdout).replace(str(rules), "rule")
    match = re.search(r"could not parse expression: (.+)", output)
    return (match.group(1) if match else output.strip().splitlines()[-1]).strip()


async def api_problem(url: str, expr: str) -> tuple[str | None, bool]:
    """(why Prometheus refuses `expr`, whether Prometheus answered at all)."""
    async with aiohttp.ClientSession() as http:
        client = PrometheusClient(http, url, timeout=10)
        try:
            await client.query(expr)
        except PrometheusError as exc:
            text = str(exc)
            if "refused the query" in text:
                return text, True
            return None, False
    return None, True


def check_queries(
    config: Config,
    text: str,
    *,
    prometheus_url: str | None,
    promtool: str | None = None,
) -> QueryReport:
    report = QueryReport()
    found = queries(config)
    if not found:
        return report
    if not prometheus_url:
        report.notes.append(
            "warning: bake analysis is configured for "
            + ", ".join(analysed_environments(config))
            + " but PROMETHEUS_URL is not set here. Where the bot runs without it, every "
            "analysis run counts as failed and each shift there ends its bake failed "
            "(rolled back or a rollback proposed): set PROMETHEUS_URL for `chatops serve`."
        )
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    promtool = promtool if promtool is not None else shutil.which("promtool")
    unchecked = 0
    for query in found:
        if promtool:
            problem = promtool_problem(promtool, query.expr)
        elif prometheus_url:
            problem, answered = asyncio.run(api_problem(prometheus_url, query.expr))
            unchecked += 0 if answered else 1
        else:
            problem, unchecked = None, unchecked + 1
        if problem is not None:
            line = line_of(root, query.key.split("."))
            where = f"line {line}: " if line else ""
            report.problems.append(f"{where}{query.key}: PromQL does not parse ({problem})")
    if unchecked:
        report.notes.append(
            f"note: {unchecked} analysis quer{'y was' if unchecked == 1 else 'ies were'} not "
            "parsed (no promtool on PATH and no reachable PROMETHEUS_URL); a query that does "
            "not parse is reported in the bake's thread and counts as a failed run"
        )
    return report

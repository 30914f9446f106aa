"""Bake analysis: PromQL checks run against Prometheus at each interval of a bake.

Like Flagger's metric analysis: every `interval` each check of the environment's
`analysis` is queried (the colour that just received traffic, filled into the query),
its value is posted in the operation's thread, and a run fails when any check breaches
its threshold, has no value, or cannot be queried. When failed runs reach the failure
limit the operation is marked `bake_failed`, exactly as the bake watch does for a P0/P1
alert, and the sweep rolls it back (`auto`) or proposes a rollback (`propose`;
bake_outcome.py). An unreachable Prometheus is never a pass: the thread says the check could
not be queried, and it counts against the limit.

Runs are claimed with a compare-and-set on `analysis_runs`, so replicas sweeping at the
same moment run each check once.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.prometheus import PrometheusClient, PrometheusError
from alerts.slack_text import escape
from bot.approvals.ids import SYSTEM, subject
from bot.approvals.models import ApprovalRequestRow
from bot.audit import trail
from bot.clock import Clock
from bot.operations import messaging
from bot.operations.models import OperationRow
from commands.analysis_config import AnalysisCheck, AnalysisConfig
from commands.config import DeployConfig
from commands.plan import OperationPlan
from commands.targets import other

log = logging.getLogger(__name__)

NO_PROMETHEUS = "PROMETHEUS_URL is not set"
RUN = "📊 Bake analysis {run} ({colour}, {service}/{environment}): {checks}"
RUN_FAILED = "Failed runs: {failures} of {limit} that end the bake."
RUN_ENDS_BAKE = "Failed runs: {failures} of {limit}: the bake fails."
BAKE_FAILED = "bake analysis failed {failures} time(s) ({worst})"


@dataclass(frozen=True)
class CheckResult:
    check: AnalysisCheck
    value: float | None
    problem: str | None
    """Why there is no value (not escaped: Prometheus's own words)."""

    @property
    def passed(self) -> bool:
        return self.problem is None and self.value is not None and within(self.check, self.value)


def within(check: AnalysisCheck, value: float) -> bool:
    if check.max is not None and value > check.max:
        return False
    return not (check.min is not None and value < check.min)


def show(check: AnalysisCheck, value: float) -> str:
    if check.show_as == "percent":
        return f"{value * 100:.2f}%"
    if check.show_as == "seconds":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"
    return f"{value:.4g}"


def threshold(check: AnalysisCheck) -> str:
    parts = []
    if check.min is not None:
        parts.append(f"min {show(check, check.min)}")
    if check.max is not None:
        parts.append(f"max {show(check, check.max)}")
    return ", ".join(parts)


def judge(check: AnalysisCheck, values: Sequence[float]) -> CheckResult:
    """One value per check: the first that breaches, else the one nearest its limit."""
    if not values:
        return CheckResult(check, None, "no data (the query returned no series)")
    numbers = [v for v in values if not math.isnan(v)]
    if not numbers:
        return CheckResult(check, None, "no data (NaN: no traffic in the window?)")
    breaching = [v for v in numbers if not within(check, v)]
    if breaching:
        return CheckResult(check, breaching[0], None)
    return CheckResult(check, max(numbers) if check.max is not None else min(numbers), None)


def describe(result: CheckResult) -> str:
    name = f"`{result.check.name}`"
    if result.value is None:
        return f"⚠️ {name} not checked: {escape(result.problem or 'no value')}"
    icon = "✅" if result.passed else "❌"
    return f"{icon} {name} {show(result.check, result.value)} ({threshold(result.check)})"


def summary(results: Sequence[CheckResult]) -> str:
    """The failed checks in a few words, for the outcome line (no outside text)."""
    parts = []
    for r in results:
        if r.passed:
            continue
        if r.value is None:
            parts.append(f"{r.check.name} could not be checked")
        else:
            parts.append(f"{r.check.name} {show(r.check, r.value)}, {threshold(r.check)}")
    return "; ".join(parts)


class BakeAnalysis:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: DeployConfig,
        clock: Clock,
        prometheus: Callable[[], PrometheusClient | None],
        wake: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._prometheus = prometheus
        self._wake = wake

    def analysis_for(self, service: str, environment: str) -> AnalysisConfig | None:
        svc = self._config.services.get(service)
        env = svc.environments.get(environment) if svc is not None else None
        return env.analysis if env is not None else None

    async def run_due(self) -> None:
        """One run of the checks for every baking operation whose next run is due."""
        now = self._clock.now()
        async with self._sessions() as session:
            baking = (
                await session.scalars(select(OperationRow).where(OperationRow.status == "baking"))
            ).all()
            due = []
            for op in baking:
                analysis = self.analysis_for(op.service, op.environment)
                if analysis is None or op.bake_until is None:
                    continue
                plan = OperationPlan.from_dict(op.plan)
                next_at = op.analysis_next_at or self._first_run(plan, op, analysis)
                if next_at <= now:
                    due.append((op.id, op.request_id, op.analysis_runs, plan, analysis))
        if due:
            await asyncio.gather(*(self._run(*item, now) for item in due))

    @staticmethod
    def _first_run(plan: OperationPlan, op: OperationRow, analysis: AnalysisConfig) -> datetime:
        assert op.bake_until is not None
        bake = plan.steps[max(op.step, 1) - 1].seconds or 0.0
        return op.bake_until - timedelta(seconds=bake) + analysis.interval

    async def _run(
        self,
        operation_id: int,
        request_id: str,
        runs: int,
        plan: OperationPlan,
        analysis: AnalysisConfig,
        now: datetime,
    ) -> None:
        if not await self._claim(operation_id, runs, now + analysis.interval):
            return  # another replica runs it, or the bake ended meanwhile
        colour = other(plan.baseline.colour)
        results = await self.check(plan, analysis, colour)
        heading = RUN.format(
            run=runs + 1,
            colour=colour,
            service=plan.target.service,
            environment=plan.target.environment,
            checks=" · ".join(describe(r) for r in results),
        )
        if await self._record(operation_id, request_id, heading, results, analysis.failure_limit):
            self._wake()

    async def _claim(self, operation_id: int, runs: int, next_at: datetime) -> bool:
        """Count this run in the operation row, unless another replica counted it first."""
        async with self._sessions.begin() as session:
            claimed = await session.execute(
                update(OperationRow)
                .where(
                    OperationRow.id == operation_id,
                    OperationRow.status == "baking",
                    OperationRow.analysis_runs == runs,
                )
                .values(analysis_runs=runs + 1, analysis_next_at=next_at)
            )
            return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]

    async def _record(
        self,
        operation_id: int,
        request_id: str,
        heading: str,
        results: list[CheckResult],
        limit: int,
    ) -> bool:
        """Say the run's results in the thread and count a failure; True when this run
        reached the failure limit and marked the bake failed."""
        ended = self._clock.now()
        async with self._sessions.begin() as session:
            op = await session.get(OperationRow, operation_id, with_for_update=True)
            if op is None or op.status != "baking":
                return False  # cancelled or finished while Prometheus answered
            if not all(r.passed for r in results):
                op.analysis_failures += 1
            lines = [heading]
            if op.analysis_failures >= limit:
                lines.append(RUN_ENDS_BAKE.format(failures=op.analysis_failures, limit=limit))
                self._fail_bake(session, op, request_id, results, ended)
            elif op.analysis_failures:
                lines.append(RUN_FAILED.format(failures=op.analysis_failures, limit=limit))
            row = await session.get(ApprovalRequestRow, request_id)
            channel = row.channel if row is not None else ""
            await messaging.reply(session, request_id, channel, "\n".join(lines), ended)
            return op.status == "bake_failed"

    @staticmethod
    def _fail_bake(
        session: AsyncSession,
        op: OperationRow,
        request_id: str,
        results: list[CheckResult],
        ended: datetime,
    ) -> None:
        op.status = "bake_failed"
        op.bake_alert = "bake analysis"
        op.bake_failure = BAKE_FAILED.format(failures=op.analysis_failures, worst=summary(results))
        trail.record(
            session,
            at=ended,
            actor=SYSTEM,
            action="operation.analysis_failed",
            subject=subject(request_id),
            failures=op.analysis_failures,
            checks={r.check.name: r.value for r in results},
        )

    async def check(
        self, plan: OperationPlan, analysis: AnalysisConfig, colour: str
    ) -> list[CheckResult]:
        client = self._prometheus()
        if client is None:
            return [CheckResult(c, None, NO_PROMETHEUS) for c in analysis.checks]
        target = plan.target

        async def one(check: AnalysisCheck) -> CheckResult:
            expr = check.render(
                service=target.service,
                environment=target.environment,
                colour=colour,
                window=analysis.window,
            )
            try:
                samples = await client.query(expr)
            except PrometheusError as exc:
                return CheckResult(check, None, str(exc))
            return judge(check, [s.value for s in samples])

        return list(await asyncio.gather(*(one(c) for c in analysis.checks)))

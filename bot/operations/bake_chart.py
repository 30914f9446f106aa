"""A picture of each bake: every analysis check's series over the bake, posted in the thread.

When a bake with analysis ends (passed, rolled back, failed or cancelled) the sweep
queries each check's range over the bake window (plus a lead-in before the shift, so the
chart shows what changed), draws it with its threshold line and the moments of the shift
and of the end marked, and uploads the PNGs through the outbox into the operation's
thread. Rendering runs in a thread: matplotlib's CPU time must not delay Slack calls or
webhooks. `chart_done_at` makes it once per bake, also across replicas and restarts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.prometheus import PrometheusClient, PrometheusError, RangeSeries, series_label
from alerts.slack_text import escape
from bot.approvals.ids import message_key
from bot.approvals.models import ApprovalRequestRow
from bot.clock import Clock
from bot.operations import messaging
from bot.operations.analysis import NO_PROMETHEUS, BakeAnalysis
from bot.operations.models import OperationRow
from bot.slack.outbox_queue import enqueue_upload
from commands.analysis_config import AnalysisCheck, AnalysisConfig
from commands.plan import OperationPlan
from commands.targets import Colour, other

log = logging.getLogger(__name__)

ENDED = ("succeeded", "rolled_back", "failed", "interrupted", "superseded")
END_MARK = {
    "succeeded": "bake passed",
    "rolled_back": "rolled back",
    "failed": "bake failed",
    "interrupted": "interrupted",
    "superseded": "superseded",
}
TOO_OLD = timedelta(hours=6)  # after a long outage, old bakes are not charted any more
POINTS = 120  # per series: enough for a smooth line, small enough for a quick query
CHART_COMMENT = "📈 The bake of {colour} at {percent}% in {service}/{environment}: {checks}"
NO_CHART = "📈 No chart of `{check}`: {problem}"

# pyplot keeps global state; one render at a time, whichever thread runs it.
_RENDER_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Ended:
    id: int
    request_id: str
    status: str
    plan: OperationPlan
    analysis: AnalysisConfig
    shifted_at: datetime
    ended_at: datetime


def _draw(
    check: AnalysisCheck,
    plan: OperationPlan,
    colour: str,
    found: list[RangeSeries],
    marks: list[tuple[datetime, str]],
) -> bytes:
    """The PNG of one check; run in a thread. matplotlib is imported here, in that thread:
    it takes seconds to import, which `chatops serve` should not spend before it answers
    webhooks, nor the event loop at the first bake."""
    from bot.charts.timeseries import Chart, Series, render

    scale = 100.0 if check.show_as == "percent" else 1.0
    unit = {"percent": "%", "seconds": "seconds"}.get(check.show_as, "")
    limit = check.max if check.max is not None else check.min
    series = [
        Series(
            series_label(s.labels) if s.labels else check.name,
            [(t, v * scale) for t, v in s.points],
        )
        for s in found
    ]
    chart = Chart(
        title=f"{check.name}: {plan.target.service}/{plan.target.environment} {colour}",
        series=series,
        threshold=None if limit is None else limit * scale,
        threshold_label="max" if check.max is not None else "min",
        marks=marks,
        unit=unit,
    )
    with _RENDER_LOCK:
        return render(chart)


class BakeCharts:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        analysis: BakeAnalysis,
        clock: Clock,
        prometheus: Callable[[], PrometheusClient | None],
    ) -> None:
        self._sessions = sessions
        self._analysis = analysis
        self._clock = clock
        self._prometheus = prometheus

    async def post_due(self) -> None:
        now = self._clock.now()
        ended: list[_Ended] = []
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(OperationRow).where(
                        OperationRow.status.in_(ENDED),
                        OperationRow.bake_until.is_not(None),
                        OperationRow.chart_done_at.is_(None),
                        OperationRow.finished_at >= now - TOO_OLD,
                    )
                )
            ).all()
            for op in rows:
                analysis = self._analysis.analysis_for(op.service, op.environment)
                if analysis is None or op.bake_until is None or op.finished_at is None:
                    continue
                plan = OperationPlan.from_dict(op.plan)
                bake = plan.steps[max(op.step, 1) - 1].seconds or 0.0
                shifted = op.bake_until - timedelta(seconds=bake)
                ended.append(
                    _Ended(op.id, op.request_id, op.status, plan, analysis, shifted, op.finished_at)
                )
        for item in ended:
            try:
                await self._post(item)
            except Exception:
                # A chart is a picture of what the thread already says: give up on it
                # rather than try (and log) again at every sweep.
                log.exception("could not post the bake chart of operation %s", item.id)
                async with self._sessions.begin() as session:
                    await session.execute(
                        update(OperationRow)
                        .where(OperationRow.id == item.id)
                        .values(chart_done_at=self._clock.now())
                    )

    async def _post(self, item: _Ended) -> None:
        colour = other(item.plan.baseline.colour)
        images, problems = await self._draw_checks(item, colour)
        now = self._clock.now()
        async with self._sessions.begin() as session:
            claimed = await session.execute(
                update(OperationRow)
                .where(OperationRow.id == item.id, OperationRow.chart_done_at.is_(None))
                .values(chart_done_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return  # another replica posted it
            row = await session.get(ApprovalRequestRow, item.request_id)
            channel = row.channel if row is not None else ""
            for text in problems:
                await messaging.reply(session, item.request_id, channel, text, now)
            for index, (check, png) in enumerate(images):
                # The first chart says what the set is; the others only carry their title.
                comment = _comment(item.plan, colour, images) if index == 0 else None
                await _upload(session, item, channel, colour, check, png, comment, now)

    async def _draw_checks(
        self, item: _Ended, colour: Colour
    ) -> tuple[list[tuple[AnalysisCheck, bytes]], list[str]]:
        """One PNG per check that Prometheus answered; a line for each that it did not."""
        plan, analysis = item.plan, item.analysis
        start = item.shifted_at - max(analysis.window, analysis.interval)
        end = max(item.ended_at, item.shifted_at + timedelta(seconds=1))
        step = max((end - start) / POINTS, timedelta(seconds=1))
        marks = [
            (item.shifted_at, f"shift to {plan.percent}%"),
            (item.ended_at, END_MARK.get(item.status, item.status)),
        ]
        images: list[tuple[AnalysisCheck, bytes]] = []
        problems: list[str] = []
        client = self._prometheus()
        for check in analysis.checks:
            if client is None:
                problems.append(NO_CHART.format(check=check.name, problem=NO_PROMETHEUS))
                continue
            expr = check.render(
                service=plan.target.service,
                environment=plan.target.environment,
                colour=colour,
                window=analysis.window,
            )
            try:
                found = await client.query_range(expr, start, end, step)
            except PrometheusError as exc:
                problems.append(NO_CHART.format(check=check.name, problem=escape(str(exc))))
                continue
            png = await asyncio.to_thread(_draw, check, plan, colour, found, marks)
            images.append((check, png))
        return images, problems


def _comment(plan: OperationPlan, colour: Colour, images: list[tuple[AnalysisCheck, bytes]]) -> str:
    return CHART_COMMENT.format(
        colour=colour,
        percent=plan.percent,
        service=plan.target.service,
        environment=plan.target.environment,
        checks=", ".join(f"`{c.name}`" for c, _ in images),
    )


async def _upload(
    session: AsyncSession,
    item: _Ended,
    channel: str,
    colour: Colour,
    check: AnalysisCheck,
    png: bytes,
    comment: str | None,
    now: datetime,
) -> None:
    target = item.plan.target
    await enqueue_upload(
        session,
        channel=channel,
        content=png,
        filename=f"bake-{target.service}-{target.environment}-{check.name}.png",
        title=f"{check.name}: {target.service}/{target.environment}",
        alt_text=f"{check.name} of {colour} during the bake, with its threshold",
        comment=comment,
        message_key=message_key(item.request_id),
        now=now,
    )

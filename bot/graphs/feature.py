"""A graph of each alert's expression in its thread, when it is first posted and when it
resolves.

The graph never delays the alert: the listener only notes the group once its transaction
has committed, and a worker queries Prometheus, draws the PNG off the event loop and
queues the upload behind the alert's own post (uploads wait for the message they belong
to, at the lowest priority). A group folded into a storm summary gets no graph. When no
graph can be drawn, the thread says why once (at the first post), never an error per
alert. Graphs are a view, not a record: a graph lost to a crash is not drawn again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.prometheus import PrometheusClient, PrometheusError, series_label
from alerts.config import AlertsConfig
from alerts.durations import format_duration
from alerts.graph_query import GraphPlan, GraphQuery, limited, plan_graph
from alerts.policy import match_route
from alerts.slack_text import escape
from bot.alerts.events import Change
from bot.alerts.groups import message_key, reply
from bot.charts.timeseries import Chart, Series, render
from bot.clock import Clock
from bot.slack.outbox_queue import enqueue_upload
from bot.storage.models import Alert, AlertGroup

log = logging.getLogger(__name__)

POINTS = 240  # samples per series across the graph's range
PENDING = "alert_graphs_due"
GRAPHED = ("opened", "resolved")

# Graphs go after every alert message waiting in the outbox: they must never delay one.
GRAPH_PRIORITY = 3


class AlertGraphs:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: AlertsConfig,
        clock: Clock,
        *,
        prometheus_url: str | None,
        on_outbox: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._default_url = prometheus_url
        self._on_outbox = on_outbox
        self._any_route_url = any(route.prometheus_url for route in config.routes)
        self._queue: asyncio.Queue[tuple[int, Change]] = asyncio.Queue()
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        # One graph query at a time per Prometheus: a burst of alerts must not become a
        # burst of range queries against the server everyone is looking at.
        self._one_at_a_time: dict[str, asyncio.Semaphore] = {}

    # --- listener: runs inside the transaction that changed the group ----------------

    async def group_changed(
        self, session: AsyncSession, group: AlertGroup, change: Change, now: datetime, actor: str
    ) -> None:
        if not self._config.graphs.enabled or change not in GRAPHED or group.storm_id:
            return
        if not self._default_url and not self._any_route_url:
            # No Prometheus configured at all: graphs are off, and saying so in every
            # alert's thread would be noise for a team that chose not to have them.
            return
        due: list[tuple[int, Change]] | None = session.info.get(PENDING)
        if due is None:
            due = session.info[PENDING] = []
            sync = session.sync_session
            collected = due

            def committed(_session: Any) -> None:
                session.info.pop(PENDING, None)
                for item in collected:
                    self._queue.put_nowait(item)

            def forget(_session: Any) -> None:
                session.info.pop(PENDING, None)

            event.listen(sync, "after_commit", committed, once=True)
            event.listen(sync, "after_rollback", forget, once=True)
        due.append((group.id, change))

    # --- worker ------------------------------------------------------------------------

    def start(self, http: aiohttp.ClientSession, *, run_workers: bool = True) -> None:
        self._http = http
        if run_workers and self._task is None:
            self._task = asyncio.create_task(self._run(), name="alert-graphs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain(self) -> int:
        """Draw every noted graph now (tests, and a worker-less service)."""
        done = 0
        while not self._queue.empty():
            group_id, change = self._queue.get_nowait()
            await self.draw(group_id, change)
            done += 1
        return done

    async def _run(self) -> None:
        while True:
            group_id, change = await self._queue.get()
            try:
                await self.draw(group_id, change)
            except Exception:
                log.exception("graph for alert group %s could not be drawn", group_id)

    async def draw(self, group_id: int, change: Change) -> str:
        """Query, render and queue one group's graph; returns what happened, in a word."""
        async with self._sessions() as session:
            group = await session.get(AlertGroup, group_id)
            if group is None or group.storm_id:
                return "skipped"
            urls = list(
                (
                    await session.scalars(
                        select(Alert.generator_url)
                        .where(Alert.group_id == group_id)
                        .order_by(Alert.id)
                        .limit(50)
                    )
                ).all()
            )
            labels = {**group.group_labels, **group.common_labels}
        route = match_route(labels, self._config)
        plan = plan_graph(urls, route_url=route.prometheus_url, default_url=self._default_url)
        now = self._clock.now()
        chart_or_reason = await self._chart(plan, group, change, now)
        async with self._sessions.begin() as session:
            group = await session.get(AlertGroup, group_id)
            if group is None:
                return "skipped"
            if isinstance(chart_or_reason, str):
                if change != "opened":
                    return "no-graph"
                # The reason can quote Prometheus, which quotes the alert's expression.
                note = f":bar_chart: No graph: {escape(chart_or_reason)}."
                await reply(session, group, note, now)
                outcome = "no-graph"
            else:
                png = await asyncio.to_thread(render, chart_or_reason)
                name = f"alert-group-{group_id}-{change}.png"
                await enqueue_upload(
                    session,
                    channel=group.channel,
                    content=png,
                    filename=name,
                    title=chart_or_reason.title,
                    alt_text=f"Graph of {chart_or_reason.title}: "
                    f"{len(chart_or_reason.series)} series over the last "
                    f"{format_duration(self._config.graphs.range)}",
                    message_key=message_key(group),
                    priority=GRAPH_PRIORITY,
                    now=now,
                )
                outcome = "graphed"
        if self._on_outbox is not None:
            self._on_outbox()
        return outcome

    async def _chart(
        self, plan: GraphPlan, group: AlertGroup, change: Change, now: datetime
    ) -> Chart | str:
        if plan.reason is not None or plan.prometheus_url is None:
            return plan.reason or "no Prometheus to ask"
        if self._http is None:
            return "the bot has no HTTP client yet"
        graphs = self._config.graphs
        span = graphs.range
        client = PrometheusClient(
            self._http,
            plan.prometheus_url,
            timeout=graphs.timeout.total_seconds(),
            max_response=graphs.max_response,
        )
        query: GraphQuery = plan.queries[0]
        expr = limited(query.expr, graphs.max_series)
        one = self._one_at_a_time.setdefault(plan.prometheus_url, asyncio.Semaphore(1))
        try:
            async with one:
                found = await client.query_range(expr, now - span, now, span / POINTS)
        except PrometheusError as exc:
            return f"{exc}"
        # topk picks per step: over the range a few more series can appear; keep the cap.
        series = [Series(series_label(s.labels), s.points) for s in found[: graphs.max_series]]
        shaded_end = group.resolved_at or now
        title = group.common_labels.get("alertname") or group.group_labels.get("alertname", "")
        return Chart(
            title=f"{title} ({'resolved' if change == 'resolved' else 'firing'})",
            series=series,
            threshold=query.threshold,
            threshold_label=f"alert {query.comparison or ''}".strip(),
            shaded=(max(group.firing_since, now - span), shaded_end),
        )

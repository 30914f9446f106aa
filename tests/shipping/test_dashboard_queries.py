"""Every dashboard query, run by a real Prometheus over the bot's own /metrics.

Grafana shows a query Prometheus refuses as an error triangle and a selector that matches
nothing as "No data": either is a blank graph in the middle of an incident. Here Debian's
Prometheus scrapes the exposition the service serves (bot/metrics.py and the report's live
figures, in one registry) after one of each thing was counted, with the label values the
code uses; each panel's query must be accepted and return a series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.clock import FakeClock
from bot.metrics import Metrics
from bot.report.live import OperationalMetrics
from bot.retention.figures import RetentionFigures
from tests.shipping.test_monitoring import dashboard_panels
from tests.support.prometheus import Exporter, prometheus_scraping

# The dashboard's variables, as Grafana would fill them in for the test's scrape job.
GRAFANA_VARIABLES = {"$job": "app"}


@dataclass
class BotExporter(Exporter):
    """The service's /metrics: its metrics and the report's figures in one registry."""

    metrics: Metrics = field(default_factory=Metrics)
    figures: OperationalMetrics = field(init=False)
    retention: RetentionFigures = field(init=False)

    def __post_init__(self) -> None:
        self.figures = OperationalMetrics(self.metrics.registry)
        self.retention = RetentionFigures(self.metrics.registry, FakeClock())

    def exposition(self) -> str:
        return self.metrics.render().decode()


def count_one_of_each(bot: BotExporter) -> None:
    """What a busy hour records, with the label values the code writes (a series with labels
    exists only once something was counted under them)."""
    m, f = bot.metrics, bot.figures
    m.alerts_received.labels("firing", "P1").inc()
    m.deliveries_processed.labels("created").inc()
    m.webhook_rejected.labels("alertmanager", "unauthorised").inc()
    m.webhook_latency.labels("alertmanager").observe(0.004)
    m.slack_calls.labels("chat.postMessage", "ok").inc()
    m.slack_calls.labels("chat.postMessage", "error").inc()
    m.pagerduty_events.labels("trigger", "ok").inc()
    m.pagerduty_unknown_events.labels("incident.custom_field_values.updated").inc()
    m.escalation_steps.labels("page", "done").inc()
    m.slack_refusals.labels("chat.postMessage", "invalid_blocks").inc()
    m.slack_blocks_dropped.labels("image").inc()
    m.delivery_retries.labels("alertmanager").inc()
    f.incidents.labels("P1").inc()
    f.time_to_ack.labels("P1").observe(240)
    f.time_to_recover.labels("P1").observe(1800)
    f.pages.labels("P1").inc()
    f.operations.labels("deploy", "Rolled back").inc()
    f.operations.labels("rollback", "Done").inc()
    f.operation_duration.labels("deploy").observe(420)
    f.approval_requests.labels("approved").inc()
    f.approval_wait.observe(300)
    m.runbook_checklists_opened.inc()
    m.runbook_steps.labels("k8s.pods", "succeeded").inc()
    m.runbook_steps.labels("none", "done").inc()
    m.runbook_approvals.labels("k8s.scale", "requested").inc()
    m.runbook_approvals.labels("k8s.scale", "approved").inc()
    m.runbook_approval_wait.labels("k8s.scale").observe(90)
    f.declared.labels("P0").inc()
    for phase, seconds in (("declare", 120), ("mitigate", 1500), ("resolve", 3600)):
        f.incident_times[phase].labels("P0").observe(seconds)
    m.heartbeat_last_seen.labels("backup").set(1_767_268_800)


def promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a dashboard variable the test does not fill in: {expr}"
    return expr


async def query(http: aiohttp.ClientSession, url: str, expr: str) -> dict[str, Any]:
    # POST: the longest panel queries are long for a URL.
    async with http.post(f"{url}/api/v1/query", data={"query": expr}) as response:
        body: dict[str, Any] = await response.json()
    return body


async def test_every_panel_query_is_accepted_and_shows_a_series(tmp_path: Path) -> None:
    bot = BotExporter()
    count_one_of_each(bot)
    await bot.start()
    try:
        async with prometheus_scraping(bot, tmp_path) as prometheus:
            # rate() and increase() need two samples of a series in their window.
            await prometheus.wait_for('count_over_time(chatops_outbox_depth{job="app"}[1m]) > 1')
            blank: list[str] = []
            async with aiohttp.ClientSession() as http:
                for panel in dashboard_panels():
                    for target in panel["targets"]:
                        expr = promql(target["expr"])
                        body = await query(http, prometheus.url, expr)
                        if body["status"] != "success":
                            blank.append(f"{panel['title']}: refused ({body.get('error')}): {expr}")
                        elif not body["data"]["result"]:
                            blank.append(f"{panel['title']}: no series: {expr}")
    finally:
        await bot.stop()
    assert not blank, "\n".join(blank)

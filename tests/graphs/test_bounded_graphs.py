"""Graphs of alert expressions cost Prometheus and the bot a bounded amount, against a real
Prometheus holding 3,000 series, through a proxy that counts what the bot reads.

Prometheus here has scraped for seconds, not hours; the bot's clock stands 4.5 minutes
ahead, so that over a 5-minute graph range every step finds a sample within Prometheus's
5-minute lookback: about 216 points for each of 3,000 series, 15.9 MB for `rt_load > 0`
and 29.9 MB for `{__name__=~"rt_.+"}` (6,000 series) when nothing bounds the query.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from actions.prometheus import PrometheusClient, PrometheusError
from bot.clock import FakeClock
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import AlertGroup
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService
from tests.graphs.test_alert_graphs import CHANNEL, KEY, LABELS, send, thread, with_expr
from tests.support.payloads import notification
from tests.support.prometheus import Exporter, RunningPrometheus, prometheus_scraping
from tests.support.services import free_port

SERIES = 3000
PAD = "x" * 40


@dataclass
class CountingProxy:
    """Forwards to Prometheus, streaming each answer in 16 KiB pieces and counting them."""

    target: str
    url: str = ""
    sent: int = 0
    queries: list[str] = field(default_factory=list)
    cut: int = 0  # answers the reader stopped reading before their end
    in_flight: int = 0
    most_in_flight: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        http = aiohttp.ClientSession()

        async def forward(request: web.Request) -> web.StreamResponse:
            form = await request.post()
            self.queries.append(str(form.get("query", "")))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                return await answer(request, form)
            finally:
                self.in_flight -= 1

        async def answer(request: web.Request, form: Any) -> web.StreamResponse:
            async with http.post(f"{self.target}{request.path}", data=dict(form)) as upstream:
                response = web.StreamResponse(status=upstream.status)
                response.content_type = "application/json"
                await response.prepare(request)
                try:
                    async for chunk in upstream.content.iter_chunked(16 * 1024):
                        await response.write(chunk)
                        self.sent += len(chunk)
                except (ConnectionError, RuntimeError):
                    self.cut += 1
                    return response
            await response.write_eof()
            return response

        async def close(_app: web.Application) -> None:
            await http.close()

        app = web.Application()
        app.router.add_post("/api/v1/{endpoint}", forward)
        app.on_cleanup.append(close)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class Setup:
    prometheus: RunningPrometheus
    proxy: CountingProxy


@pytest.fixture
async def wide(tmp_path: Path) -> AsyncIterator[Setup]:
    exporter = Exporter(
        text="".join(
            f'rt_load{{instance="i-{n}",pad="{PAD}"}} {n}\nrt_spare{{instance="i-{n}"}} 1\n'
            for n in range(SERIES)
        )
    )
    await exporter.start()
    try:
        async with prometheus_scraping(exporter, tmp_path) as prometheus:
            await prometheus.wait_for(f"count(rt_load) == {SERIES}")
            proxy = CountingProxy(prometheus.url)
            await proxy.start()
            try:
                yield Setup(prometheus, proxy)
            finally:
                await proxy.stop()
    finally:
        await exporter.stop()


def graphed(config: Config, **graphs: object) -> Config:
    alerts = config.alerts
    settings = alerts.graphs.model_copy(update={"range": timedelta(minutes=5), **graphs})
    return config.model_copy(update={"alerts": alerts.model_copy(update={"graphs": settings})})


async def bot_for(
    setup: Setup, start_service: StartService, sqlite_url: str, config: Config
) -> RunningService:
    clock = FakeClock(datetime.now(UTC) + timedelta(minutes=4, seconds=30))
    return await start_service(
        sqlite_url, prometheus_url=setup.proxy.url, clock=clock, config=config
    )


def notes(emulator: SlackEmulator) -> list[str]:
    return [m.text for m in thread(emulator) if "No graph" in m.text]  # type: ignore[attr-defined]


async def test_a_selector_without_a_metric_name_is_refused_and_prometheus_errors_are_escaped(
    wide: Setup,
    start_service: StartService,
    sqlite_url: str,
    emulator: SlackEmulator,
    example_config: Config,
) -> None:
    bot = await bot_for(wide, start_service, sqlite_url, graphed(example_config))
    await send(bot, with_expr(notification(KEY, labels=LABELS), '{__name__=~"rt_.+"}'))
    [note] = notes(emulator)
    assert "regex" in note and "__name__" in note, note
    assert wide.proxy.queries == [] and wide.proxy.sent == 0, "Prometheus was not asked"

    # Prometheus quotes a bad regex in its error; the note shows it, escaped.
    other = {**LABELS, "alertname": "Mentions"}
    expr = 'rt_load{instance=~"( ` <!channel> ` <@U0001>"}'
    await send(bot, with_expr(notification('{}:{alertname="Mentions"}', labels=other), expr))
    [top] = [m for m in emulator.messages(CHANNEL) if "Mentions" in m.text]
    [refused] = [
        m.text  # type: ignore[attr-defined]
        for m in emulator.replies(CHANNEL, top.ts)
        if "No graph" in m.text  # type: ignore[attr-defined]
    ]
    assert "Prometheus refused the query" in refused, refused
    assert "<!channel>" not in refused and "<@" not in refused, refused
    assert "&lt;!channel&gt;" in refused and "&lt;@U0001&gt;" in refused, refused


async def test_an_expression_matching_thousands_of_series_draws_ten_and_reads_little(
    wide: Setup,
    start_service: StartService,
    sqlite_url: str,
    emulator: SlackEmulator,
    example_config: Config,
) -> None:
    bot = await bot_for(wide, start_service, sqlite_url, graphed(example_config))
    await send(bot, with_expr(notification(KEY, labels=LABELS), "rt_load > 0"))
    files = [m for m in thread(emulator) if getattr(m, "files", None)]
    assert len(files) == 1, notes(emulator)
    [shared] = files[0].files  # type: ignore[attr-defined]
    assert shared["alt_txt"].startswith("Graph of ApiErrors (firing): 10 series"), shared
    [query] = wide.proxy.queries
    assert query.startswith("topk(10, (")
    assert wide.proxy.sent < 512 * 1024, f"read {wide.proxy.sent} bytes for 10 lines"

    # Three groups drawn at once ask Prometheus one after another.
    for n in range(3):
        body = notification(
            f'{{}}:{{alertname="Wide{n}"}}', labels={**LABELS, "alertname": f"Wide{n}"}
        )
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{bot.url}/webhooks/alertmanager",
                json=with_expr(body, "rt_load"),
                headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
            ) as response,
        ):
            assert response.status == 200
    await bot.settle()
    async with bot.service.sessions() as session:
        ids = list(await session.scalars(select(AlertGroup.id).order_by(AlertGroup.id)))
    graphs = bot.service.graphs
    outcomes = await asyncio.gather(*(graphs.draw(group, "opened") for group in ids[1:]))
    assert outcomes == ["graphed"] * 3
    assert len(wide.proxy.queries) == 4 and wide.proxy.most_in_flight == 1


async def test_an_answer_over_the_cap_is_given_up_while_it_streams(
    wide: Setup,
    start_service: StartService,
    sqlite_url: str,
    emulator: SlackEmulator,
    example_config: Config,
) -> None:
    config = graphed(example_config, max_series=50, max_response=64 * 1024)
    bot = await bot_for(wide, start_service, sqlite_url, config)
    await send(bot, with_expr(notification(KEY, labels=LABELS), "rt_load"))
    [note] = notes(emulator)
    assert "over 64 KiB" in note, note

    # Bake analysis' queries come from config, but its reader is bounded too: asked
    # without the graph's guards for all 6,000 series, the client reads about its cap and
    # closes the connection, and the proxy is cut off well before the 30 MB answer ends.
    wide.proxy.sent = wide.proxy.cut = 0
    now = datetime.now(UTC) + timedelta(minutes=4, seconds=30)
    async with aiohttp.ClientSession() as http:
        client = PrometheusClient(http, wide.proxy.url, max_response=2 * 1024 * 1024)
        with pytest.raises(PrometheusError, match="over 2 MiB"):
            await client.query_range(
                '{__name__=~"rt_.+"}', now - timedelta(minutes=5), now, timedelta(seconds=1.25)
            )
    for _ in range(100):  # the proxy notices the closed connection at its next write
        if wide.proxy.cut:
            break
        await asyncio.sleep(0.05)
    assert wide.proxy.cut == 1
    assert wide.proxy.sent < 8 * 1024 * 1024, wide.proxy.sent

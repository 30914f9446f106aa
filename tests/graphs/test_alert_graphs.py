"""A graph of the alert's expression in its thread, from a real Prometheus."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

import aiohttp

from bot.clock import FakeClock
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService
from tests.support.payloads import notification
from tests.support.prometheus import Exporter, prometheus_scraping
from tests.support.services import free_port

CHANNEL = "C0000ALERT"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXPR = 'app_error_ratio{service="api"} > 0.01'
KEY = '{}:{alertname="ApiErrors"}'
LABELS = {"alertname": "ApiErrors", "severity": "warning", "service": "api"}


def with_expr(body: dict[str, object], expr: str = EXPR) -> dict[str, object]:
    for alert in body["alerts"]:  # type: ignore[attr-defined]
        alert["generatorURL"] = f"http://prometheus:9090/graph?g0.expr={quote_plus(expr)}&g0.tab=1"
    return body


async def send(bot: RunningService, body: dict[str, object]) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{bot.url}/webhooks/alertmanager",
            json=body,
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        ) as response,
    ):
        assert response.status == 200
    await bot.settle()
    await bot.service.graphs.drain()
    await bot.settle()


def thread(emulator: SlackEmulator) -> list[object]:
    [top] = [m for m in emulator.messages(CHANNEL) if m.thread_ts in (None, m.ts)]
    return [m for m in emulator.replies(CHANNEL, top.ts) if m.ts != top.ts]


async def test_an_alert_with_an_expression_gets_a_graph_of_each_series_in_its_thread(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    exporter = Exporter(
        text="".join(
            f'app_error_ratio{{service="api",instance="pod-{n}"}} 0.0{n + 1}\n' for n in range(3)
        )
    )
    await exporter.start()
    try:
        async with prometheus_scraping(exporter, tmp_path) as prometheus:
            # Prometheus holds samples of the real present: the bot's clock must be there too.
            clock = FakeClock(datetime.now(UTC))
            bot = await start_service(sqlite_url, prometheus_url=prometheus.url, clock=clock)
            await send(bot, with_expr(notification(KEY, alerts=3, labels=LABELS)))

            files = [m for m in thread(emulator) if getattr(m, "files", None)]
            assert len(files) == 1, "one graph, in the alert's thread"
            [shared] = files[0].files  # type: ignore[attr-defined]
            assert shared["alt_txt"].startswith("Graph of ApiErrors (firing): 3 series")
            png = emulator.files.content(shared["id"])
            assert png is not None and png.startswith(PNG_MAGIC) and len(png) > 10_000

            # An update of the same group draws nothing new; its resolve draws the end.
            await send(
                bot, with_expr(notification(KEY, alerts=3, labels=LABELS, status="resolved"))
            )
            uploads = [m for m in thread(emulator) if getattr(m, "files", None)]
            assert len(uploads) == 2
            assert uploads[1].files[0]["alt_txt"].startswith("Graph of ApiErrors (resolved)")  # type: ignore[attr-defined]
    finally:
        await exporter.stop()


async def test_prometheus_down_says_so_once_and_the_alert_is_posted(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url, prometheus_url=f"http://127.0.0.1:{free_port()}")
    await send(bot, with_expr(notification(KEY, labels=LABELS)))
    [top] = [m for m in emulator.messages(CHANNEL) if m.thread_ts in (None, m.ts)]
    assert "ApiErrors" in top.text  # the alert itself is there
    await send(bot, with_expr(notification(KEY, alerts=2, labels=LABELS)))
    await send(bot, with_expr(notification(KEY, alerts=2, labels=LABELS, status="resolved")))
    notes = [m.text for m in thread(emulator) if "No graph" in m.text]  # type: ignore[attr-defined]
    assert len(notes) == 1 and "Prometheus unreachable" in notes[0]


async def test_without_any_prometheus_configured_graphs_are_off_and_say_nothing(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    await send(bot, with_expr(notification(KEY, labels=LABELS)))
    assert emulator.messages(CHANNEL), "the alert is posted"
    assert [m for m in thread(emulator) if "graph" in m.text.lower()] == []  # type: ignore[attr-defined]


async def test_an_alert_without_an_expression_is_said_once(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url, prometheus_url=f"http://127.0.0.1:{free_port()}")
    await send(bot, notification(KEY, labels=LABELS))  # generatorURL without g0.expr
    notes = [m.text for m in thread(emulator) if "No graph" in m.text]  # type: ignore[attr-defined]
    assert notes == [":bar_chart: No graph: the alerts' source link carries no PromQL expression."]

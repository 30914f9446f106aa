"""The Prometheus client against Debian's real Prometheus, scraping an exporter we control."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from actions.prometheus import PrometheusClient, PrometheusError, series_label
from tests.support.prometheus import Exporter, prometheus_scraping
from tests.support.services import free_port


async def test_instant_and_range_queries_read_what_was_scraped(tmp_path: Path) -> None:
    exporter = Exporter(text='app_queue_depth{queue="a"} 3\napp_queue_depth{queue="b"} 7\n')
    await exporter.start()
    try:
        async with (
            prometheus_scraping(exporter, tmp_path) as prometheus,
            aiohttp.ClientSession() as http,
        ):
            client = PrometheusClient(http, prometheus.url)
            samples = await client.query("sum(app_queue_depth)")
            assert [s.value for s in samples] == [10.0]
            assert (await client.query("scalar(sum(app_queue_depth))"))[0].value == 10.0

            exporter.text = 'app_queue_depth{queue="a"} 30\napp_queue_depth{queue="b"} 7\n'
            await prometheus.wait_for('app_queue_depth{queue="a"} == 30')
            end = datetime.now(UTC)
            series = await client.query_range(
                "app_queue_depth", end - timedelta(minutes=1), end, timedelta(seconds=1)
            )
            by_queue = {s.labels["queue"]: [v for _, v in s.points] for s in series}
            assert set(by_queue) == {"a", "b"}
            assert 3.0 in by_queue["a"] and 30.0 in by_queue["a"]
            assert set(by_queue["b"]) == {7.0}
            assert series_label(series[0].labels).startswith("app_queue_depth{")
    finally:
        await exporter.stop()


async def test_a_query_prometheus_refuses_says_why(tmp_path: Path) -> None:
    exporter = Exporter(text="x 1\n")
    await exporter.start()
    try:
        async with (
            prometheus_scraping(exporter, tmp_path) as prometheus,
            aiohttp.ClientSession() as http,
        ):
            client = PrometheusClient(http, prometheus.url)
            with pytest.raises(PrometheusError, match=r"refused the query.*parse error"):
                await client.query("sum(x")
    finally:
        await exporter.stop()


async def test_an_unreachable_prometheus_is_an_error_not_an_empty_answer() -> None:
    async with aiohttp.ClientSession() as http:
        client = PrometheusClient(http, f"http://127.0.0.1:{free_port()}", timeout=2)
        with pytest.raises(PrometheusError, match="unreachable"):
            await client.query("up")

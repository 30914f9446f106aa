"""Bytes of Prometheus's answer to a graph's range query, with and without the bounds.

The setup of tests/graphs/test_bounded_graphs.py: Debian's Prometheus on loopback scraping
3,000 `rt_load` and 3,000 `rt_spare` series, asked over a 5-minute range at the graph's
step (range / 240), ending 4.5 minutes ahead so that every step has a sample.

    PYTHONPATH=. .venv/bin/python benchmarks/graph_answers.py
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from alerts.graph_query import limited
from tests.support.prometheus import Exporter, prometheus_scraping

PAD = "x" * 40
QUERIES = ['{__name__=~"rt_.+"}', "rt_load > 0", limited("rt_load > 0", 10)]


async def main() -> None:
    exporter = Exporter(
        text="".join(
            f'rt_load{{instance="i-{n}",pad="{PAD}"}} {n}\nrt_spare{{instance="i-{n}"}} 1\n'
            for n in range(3000)
        )
    )
    await exporter.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with prometheus_scraping(exporter, Path(tmp)) as prometheus:
                await prometheus.wait_for("count(rt_load) == 3000")
                end = datetime.now(UTC) + timedelta(minutes=4, seconds=30)
                start = end - timedelta(minutes=5)
                async with aiohttp.ClientSession() as http:
                    for query in QUERIES:
                        form = {
                            "query": query,
                            "start": f"{start.timestamp():.3f}",
                            "end": f"{end.timestamp():.3f}",
                            "step": "1.25",
                        }
                        url = f"{prometheus.url}/api/v1/query_range"
                        async with http.post(url, data=form) as response:
                            body = await response.read()
                        print(f"{query!r}: {len(body):,} bytes")
    finally:
        await exporter.stop()


if __name__ == "__main__":
    asyncio.run(main())

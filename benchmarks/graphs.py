"""CPU cost of an alert graph: Prometheus range query, PNG render, upload queued.

Starts Debian's Prometheus on loopback scraping an exporter of 10 series, a bot service
on SQLite with the Slack emulator (rate limit off), posts GROUPS alert groups whose
generatorURL carries an expression, then draws their graphs one by one and measures the
process CPU time (all threads: the render runs in one) and wall time of each draw.

    .venv/bin/python benchmarks/graphs.py --groups 30
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.clock import FakeClock
from bot.config import load_config
from bot.sandbox.emulator import SlackEmulator, default_workspace
from bot.service import Service
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, make_settings
from tests.support.payloads import notification
from tests.support.prometheus import Exporter, prometheus_scraping

ROOT = Path(__file__).resolve().parents[1]
EXPR = "app_error_ratio > 0.01"


async def main(groups: int) -> None:
    exporter = Exporter(text="".join(f'app_error_ratio{{pod="p{n}"}} 0.0{n}\n' for n in range(10)))
    await exporter.start()
    emulator = SlackEmulator(token=BOT_TOKEN, signing_secret=SIGNING_SECRET)
    default_workspace(emulator)
    await emulator.start()
    with tempfile.TemporaryDirectory() as tmp:
        async with prometheus_scraping(exporter, Path(tmp)) as prometheus:
            await asyncio.sleep(20)  # some history to draw
            settings = make_settings(
                f"sqlite+aiosqlite:///{tmp}/bench.db", emulator, prometheus_url=prometheus.url
            )
            config = load_config(ROOT / "examples" / "chatops.yaml")
            # Storm mode off: folded groups get no graph, and this measures graphs.
            alerts = config.alerts.model_copy(update={"storm_threshold": None})
            config = config.model_copy(update={"alerts": alerts})
            service = Service(
                settings, config, clock=FakeClock(datetime.now(UTC)), run_workers=False
            )
            await service.migrate()
            await service._on_startup(None)  # type: ignore[arg-type]
            for n in range(groups):
                body = notification(
                    f'{{}}:{{alertname="Bench{n}"}}', labels={"alertname": f"Bench{n}"}
                )
                for alert in body["alerts"]:
                    alert["generatorURL"] = f"http://p/graph?g0.expr={quote_plus(EXPR)}"
                await service.intake.store("alertmanager", body)
            await service.processor.process_pending()
            cpu: list[float] = []
            wall: list[float] = []
            queued = []
            while not service.graphs._queue.empty():
                queued.append(service.graphs._queue.get_nowait())
            for group_id, change in queued:
                c0, w0 = time.process_time(), time.perf_counter()
                outcome = await service.graphs.draw(group_id, change)
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
                assert outcome == "graphed", outcome
            await service._on_cleanup(None)  # type: ignore[arg-type]
    await exporter.stop()
    await emulator.stop()
    first, rest = cpu[0], cpu[1:]
    print(f"groups drawn: {len(cpu)} (10 series each, 1 h range, 240 points)")
    print(f"first draw (imports matplotlib): CPU {first * 1000:.0f} ms")
    print(
        f"later draws: CPU p50 {statistics.median(rest) * 1000:.0f} ms, p95 {sorted(rest)[int(len(rest) * 0.95) - 1] * 1000:.0f} ms, max {max(rest) * 1000:.0f} ms; wall p50 {statistics.median(wall[1:]) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=30)
    asyncio.run(main(parser.parse_args().groups))

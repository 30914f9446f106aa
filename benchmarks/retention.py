"""Intake latency while retention prunes 100,000 rows, beside the same intake without it.

The service runs in this process (as `chatops serve` runs its timer jobs beside the
webhook handlers, on one event loop and, on SQLite, one database connection), with
`--rows` processed webhook deliveries a month old. Webhooks are POSTed at `--rate` a
second; each latency is the POST's round trip (stored and answered 200). The prune then
runs beside a second, identical series.

    .venv/bin/python benchmarks/retention.py --database sqlite
    .venv/bin/python benchmarks/retention.py --database postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intake import TOKEN, drop_postgres, payload, percentile, postgres_url
from paced_process import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_TOKEN, channel_config


async def series(url: str, rate: float, count: int, run: str) -> list[float]:
    out: list[float] = []
    start = time.monotonic()
    async with aiohttp.ClientSession() as http:
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            began = time.perf_counter()
            body = payload(f"R{run}n{i}")
            async with http.post(f"{url}/webhooks/alertmanager", json=body, headers=TOKEN) as r:
                assert r.status == 200, await r.text()
            out.append(time.perf_counter() - began)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()

    from pydantic import SecretStr
    from sqlalchemy import insert

    from bot.clock import FakeClock
    from bot.config import load_config
    from bot.service import Service
    from bot.settings import Settings
    from bot.storage.models import WebhookDelivery

    workdir = Path(tempfile.mkdtemp(prefix="chatops-retention-"))
    pg_name = None
    if args.database == "postgres":
        url, pg_name = await postgres_url()
    else:
        url = f"sqlite+aiosqlite:///{workdir / 'retention.db'}"
    settings = Settings.model_construct(
        database_url=url,
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        alertmanager_webhook_token=SecretStr(WEBHOOK_TOKEN),
        slack_api_url="http://127.0.0.1:9/api/",  # never called: workers are off
    )
    clock = FakeClock()
    service = Service(
        settings, load_config(channel_config(workdir, 1)), clock=clock, run_workers=False
    )
    runner = web.AppRunner(service.web_app)
    try:
        await service.migrate()
        old = clock.now() - timedelta(days=30)
        rows = [
            {
                "source": "alertmanager",
                "received_at": old,
                "processed_at": old,
                "body": {"alerts": []},
                "state": "done",
                "outcome": "duplicate",
            }
            for _ in range(5_000)
        ]
        for _ in range(args.rows // len(rows)):
            async with service.sessions.begin() as session:
                await session.execute(insert(WebhookDelivery), rows)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        run = uuid.uuid4().hex[:6]

        without = await series(base, args.rate, args.requests, run + "a")
        prune_started = time.perf_counter()
        prune = asyncio.create_task(service.pruner.prune())
        during = await series(base, args.rate, args.requests, run + "b")
        pruned = await prune
        prune_took = time.perf_counter() - prune_started
        for name, values in (("without a prune", without), ("during the prune", during)):
            print(
                f"{args.database}, intake {name}: p50 {percentile(values, 50) * 1000:.1f} ms, "
                f"p99 {percentile(values, 99) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms "
                f"({len(values)} webhooks at {args.rate:g}/s)"
            )
        print(
            f"{args.database}: pruned {pruned.rows.get('webhook_deliveries', 0):,} webhook "
            f"bodies in {prune_took:.1f} s (batches of {service.config.retention.batch}); "
            f"load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        await runner.cleanup()
        if pg_name:
            await drop_postgres(pg_name)


if __name__ == "__main__":
    asyncio.run(main())

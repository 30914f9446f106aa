"""Intake throughput and webhook-to-Slack latency, against a real `chatops serve`.

The bot runs in its own process; this process is the load generator and the Slack
emulator, with Slack's per-channel rate limit on. Every channel is paced at Slack's
documented one message per second, so the groups are routed over `--channels` channels
(a `shard` label, one route per channel): posting thousands of groups into one channel
would measure Slack's limit (and the storm summary), not the bot. Latency is measured
from just before the webhook POST to the moment the emulator records the
chat.postMessage for that group; both are CLOCK_MONOTONIC of the same machine.

    .venv/bin/python benchmarks/intake.py --database sqlite
    .venv/bin/python benchmarks/intake.py --database postgres
    .venv/bin/python benchmarks/intake.py --database sqlite --backlog 2000   # processor alone
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bot.sandbox.emulator import SlackEmulator

ROOT = Path(__file__).resolve().parents[1]
TOKEN = {"Authorization": "Bearer sandbox-token"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def payload(group: str, alerts: int = 1, shard: int = 0) -> dict[str, Any]:
    labels = {"alertname": group, "service": "api", "severity": "warning", "shard": str(shard)}
    return {
        "version": "4",
        "groupKey": f"bench:{group}",
        "status": "firing",
        "receiver": "chatops",
        "groupLabels": {"alertname": group},
        "commonLabels": labels,
        "commonAnnotations": {"summary": f"{group} is firing"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {**labels, "instance": f"node-{i}:9100"},
                "annotations": {"summary": "bench"},
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": f"{i:016x}",
            }
            for i in range(alerts)
        ],
    }


async def throughput(
    url: str, seconds: float, per_request: int, workers: int, channels: int
) -> tuple[int, int]:
    accepted = 0
    failed = 0
    deadline = time.monotonic() + seconds
    run = uuid.uuid4().hex[:6]

    async def worker(index: int, http: aiohttp.ClientSession) -> None:
        nonlocal accepted, failed
        n = 0
        while time.monotonic() < deadline:
            n += 1
            body = payload(f"T{run}w{index}n{n}", per_request, (index * 7919 + n) % channels)
            async with http.post(f"{url}/webhooks/alertmanager", json=body, headers=TOKEN) as r:
                await r.read()
                if r.status == 200:
                    accepted += per_request
                else:
                    failed += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=workers)) as http:
        await asyncio.gather(*(worker(i, http) for i in range(workers)))
    return accepted, failed


async def counter(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:\{{[^}}]*\}})? (\S+)", text, re.M))


async def wait_drained(url: str, deliveries: int, timeout: float = 900) -> float:
    """Seconds until every accepted delivery is processed, the outbox is empty (each group
    posted, or named in its channel's storm summary) and every storm has ended."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        while time.monotonic() - started < timeout:
            async with http.get(f"{url}/metrics") as r:
                text = await r.text()
            processed = await counter(text, "chatops_webhook_deliveries_processed_total")
            depth = await counter(text, "chatops_outbox_depth")
            storms = await counter(text, "chatops_storms_open")
            if processed >= deliveries and depth == 0 and storms == 0:
                return time.monotonic() - started
            await asyncio.sleep(0.25)
    raise SystemExit("the bot did not drain its backlog in time")


async def wait_processed(url: str, deliveries: int, timeout: float = 900) -> float:
    """Seconds until every accepted delivery is processed."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        while time.monotonic() - started < timeout:
            async with http.get(f"{url}/metrics") as r:
                text = await r.text()
            if await counter(text, "chatops_webhook_deliveries_processed_total") >= deliveries:
                return time.monotonic() - started
            await asyncio.sleep(0.25)
    raise SystemExit("the bot did not process its backlog in time")


async def latency(
    url: str, emulator: SlackEmulator, rate: float, seconds: float, channels: int
) -> list[float]:
    run = uuid.uuid4().hex[:6]
    sent: dict[str, float] = {}
    count = int(rate * seconds)
    start = time.monotonic()
    async with aiohttp.ClientSession() as http:

        async def one(i: int) -> None:
            group = f"L{run}n{i}"
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            sent[group] = time.monotonic()
            body = payload(group, shard=i % channels)
            async with http.post(f"{url}/webhooks/alertmanager", json=body, headers=TOKEN) as r:
                assert r.status == 200, await r.text()

        await asyncio.gather(*(one(i) for i in range(count)))
        deadline = time.monotonic() + 60
        posted: dict[str, float] = {}
        while len(posted) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            for call in emulator.calls("chat.postMessage"):
                match = re.search(rf"(L{run}n\d+)", str(call.args.get("text", "")))
                if match and call.status == 200:
                    posted.setdefault(match.group(1), call.at)
    return sorted(posted[g] - sent[g] for g in posted)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    k = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))
    return sorted(values)[k]


async def postgres_url() -> tuple[str, str]:
    name = f"chatops_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", name


async def drop_postgres(name: str) -> None:
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="postgres")
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def drain_backlog(database: str, groups: int, channels: int) -> None:
    """The delivery processor alone, in this process: `groups` new groups (one alert each,
    over `channels` channels) stored as pending deliveries, then processed with the
    service's own wiring and listeners, nothing sent to Slack. Counts SQL statements, so
    the figure that matters does not depend on the machine's load."""
    from paced_process import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_TOKEN, channel_config
    from pydantic import SecretStr
    from sqlalchemy import event

    from bot.clock import FakeClock
    from bot.config import load_config
    from bot.service import Service
    from bot.settings import Settings

    workdir = Path(tempfile.mkdtemp(prefix="chatops-backlog-"))
    pg_name = None
    if database == "postgres":
        url, pg_name = await postgres_url()
    else:
        url = f"sqlite+aiosqlite:///{workdir / 'backlog.db'}"
    settings = Settings.model_construct(
        database_url=url,
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        alertmanager_webhook_token=SecretStr(WEBHOOK_TOKEN),
        slack_api_url="http://127.0.0.1:9/api/",  # never called: nothing is sent
    )
    service = Service(
        settings,
        load_config(channel_config(workdir, channels)),
        clock=FakeClock(),
        run_workers=False,
    )
    try:
        await service.migrate()
        run = uuid.uuid4().hex[:6]
        for i in range(groups):
            await service.intake.store("alertmanager", payload(f"B{run}n{i}", 1, i % channels))
        sent = 0

        def count(*_: Any) -> None:
            nonlocal sent
            sent += 1

        event.listen(service.engine.sync_engine, "before_cursor_execute", count)
        started = time.perf_counter()
        done = await service.processor.process_pending()
        took = time.perf_counter() - started
        print(
            f"backlog, {database}: {done:,} groups over {channels} channels processed in "
            f"{took:.1f}s ({done / took:,.0f} groups/s); {sent:,} SQL statements, "
            f"{sent / done:.1f} per group; load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        await service.intake.close()
        await service.engine.dispose()
        if pg_name:
            await drop_postgres(pg_name)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--rate", type=float, default=20, help="groups per second for latency")
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument("--channels", type=int, default=100, help="channels the groups go to")
    parser.add_argument(
        "--backlog", type=int, help="only process this many stored groups in this process"
    )
    args = parser.parse_args()
    if args.backlog:
        await drain_backlog(args.database, args.backlog, args.channels)
        return

    from paced_process import paced_bot

    workdir = Path(tempfile.mkdtemp(prefix="chatops-bench-"))
    async with paced_bot(args.database, workdir, args.channels) as bot:
        url, emulator, server = bot.url, bot.emulator, bot.process
        print(
            f"database: {args.database}; bot pid {server.pid}; {os.cpu_count()} cores; "
            f"{args.channels} channels; load average {os.getloadavg()[0]:.1f}"
        )
        deliveries = 0
        for per_request in (1, 10):
            accepted, failed = await throughput(
                url, args.seconds, per_request, args.workers, args.channels
            )
            deliveries += accepted // per_request
            print(
                f"intake, {per_request} alert(s)/request, {args.workers} concurrent clients: "
                f"{accepted / args.seconds:,.0f} alerts/s accepted ({failed} refused)"
            )
            processed = await wait_processed(url, deliveries)
            drained = await wait_drained(url, deliveries)
            groups = accepted // per_request
            print(
                f"  {groups:,} groups processed {processed:.1f}s after the load stopped "
                f"(at least {groups / (args.seconds + processed):,.0f} groups/s); all in Slack "
                f"(own message or storm summary) and the storms over after {drained:.1f}s"
            )
        latencies = await latency(url, emulator, args.rate, args.latency_seconds, args.channels)
        expected = int(args.rate * args.latency_seconds)
        print(
            f"webhook -> Slack at {args.rate:g} groups/s for {args.latency_seconds:g}s "
            f"({len(latencies)}/{expected} delivered): "
            f"p50 {percentile(latencies, 50) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms, mean {statistics.mean(latencies) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())

"""One alert group of 5,000 alerts end to end: webhook -> database -> Slack (emulator).

Runs `chatops serve` in sandbox mode in its own process (as benchmarks/intake.py does)
and posts one notification as Alertmanager sends it with `max_alerts: 0`: 5,000 alerts
with kube-prometheus-sized labels and annotations. Measures the time to the 200, to the
Slack message, to the update after all resolve, how long /healthz took at worst while the
body was read and parsed (the event loop must stay free), and the bot's peak RSS.

    .venv/bin/python benchmarks/big_group.py [--alerts 5000] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sandbox_process import Sandbox, sandbox

TOKEN = {"Authorization": "Bearer sandbox-token", "Content-Type": "application/json"}
NAME = "KubeContainerWaitingBench"


def notification(alerts: int, status: str) -> dict[str, Any]:
    ends = "2026-01-01T01:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z"
    items = []
    for i in range(alerts):
        pod = f"worker-{i:05d}"
        items.append(
            {
                "status": status,
                "labels": {
                    "alertname": NAME,
                    "namespace": f"batch-{i % 40:02d}",
                    "pod": pod,
                    "container": "app",
                    "severity": "warning",
                    "cluster": "prod-eu-1",
                },
                "annotations": {
                    "summary": f"Pod container waiting longer than 1 hour ({pod})",
                    "description": f"pod/{pod} container app has been in waiting state "
                    "for longer than 1 hour. " * 4,
                    "runbook_url": "https://runbooks.example.com/kubecontainerwaiting",
                },
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": ends,
                "generatorURL": "http://prometheus:9090/graph?g0.expr=kube_pod_container",
                "fingerprint": f"{i:016x}",
            }
        )
    return {
        "version": "4",
        "groupKey": '{}:{alertname="' + NAME + '"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "chatops",
        "groupLabels": {"alertname": NAME},
        "commonLabels": {"alertname": NAME, "container": "app", "severity": "warning"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": items,
    }


async def slack_calls(http: aiohttp.ClientSession, bot: Sandbox, method: str) -> int:
    async with http.get(
        f"{bot.emulator}/_emulator/calls", params={"method": method}, headers=bot.control_headers
    ) as r:
        calls = (await r.json())["calls"]
    return sum(1 for c in calls if NAME in str(c["args"].get("text", "")) and c["status"] == 200)


async def wait_calls(http: aiohttp.ClientSession, bot: Sandbox, method: str, n: int) -> None:
    deadline = time.monotonic() + 600
    while await slack_calls(http, bot, method) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"no {method} for the group")
        await asyncio.sleep(0.05)


async def post_timed(
    http: aiohttp.ClientSession, url: str, body: bytes
) -> tuple[float, float, float]:
    """(seconds to the 200, seconds to Slack, worst /healthz latency meanwhile)."""
    worst = 0.0
    done = asyncio.Event()

    async def probe() -> None:
        nonlocal worst
        while not done.is_set():
            started = time.monotonic()
            async with http.get(f"{url}/healthz") as r:
                await r.read()
            worst = max(worst, time.monotonic() - started)
            await asyncio.sleep(0.01)

    prober = asyncio.create_task(probe())
    started = time.monotonic()
    async with http.post(f"{url}/webhooks/alertmanager", data=body, headers=TOKEN) as r:
        assert r.status == 200, await r.text()
    answered = time.monotonic() - started
    done.set()
    await prober
    return answered, started, worst


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def phase(
    http: aiohttp.ClientSession, bot: Sandbox, body: bytes, method: str, seen: int
) -> str:
    answered, started, worst = await post_timed(http, bot.url, body)
    await wait_calls(http, bot, method, seen)
    in_slack = time.monotonic() - started
    return (
        f"200 after {answered:.2f}s, {method} after {in_slack:.2f}s; "
        f"worst /healthz meanwhile {worst * 1000:.0f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="chatops-big-group-"))
    async with sandbox(args.database, workdir) as bot, aiohttp.ClientSession() as http:
        firing = json.dumps(notification(args.alerts, "firing")).encode()
        resolved = json.dumps(notification(args.alerts, "resolved")).encode()
        print(
            f"{args.database}; {args.alerts:,} alerts in one group; body "
            f"{len(firing) / 2**20:.1f} MiB; {os.cpu_count()} cores; bot peak RSS at start "
            f"{peak_rss_mib(bot.process.pid):.0f} MiB"
        )
        print("firing:", await phase(http, bot, firing, "chat.postMessage", 1))
        print("resolved:", await phase(http, bot, resolved, "chat.update", 1))
        print(f"bot peak RSS: {peak_rss_mib(bot.process.pid):.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())

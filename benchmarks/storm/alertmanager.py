"""The storm of `run.py`, through Alertmanager's own `slack_configs` receiver instead of the bot.

    .venv/bin/python benchmarks/storm/alertmanager.py --runs 3

Debian's Alertmanager 0.25 on loopback (`--cluster.listen-address=`), its Slack receiver's
`api_url` at the emulator's incoming-webhook endpoint (`POST /services/...`), the
emulator's rate limit on (the same per-channel bucket as for the bot: 3 deep, 1 per
second; 429 + Retry-After). The same storm: 500 groups (`group_by: [alertname]`) over
the same 20 channels (one route and receiver per `shard`), each group's 10 alerts sent
as 5 then 5 more, 1,000 POSTs to /api/v2/alerts evenly over 10 s, and one P0
(`severity: critical`, routed to `#incidents`) half-way. group_wait 1s, group_interval 5s.

"P0 latency" is from just before its POST to the emulator accepting (200) its webhook
post (same process, same monotonic clock). A group is "delivered" when Slack holds a
message for it showing all 10 alerts (`[FIRING:10]`); a group with no message at the
end is lost, one whose newest message shows fewer than 10 is stale. Every loop is
bounded: the run stops waiting `--wait` seconds after the last POST.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.sandbox.emulator import SlackEmulator, default_workspace  # noqa: E402
from bot.sandbox.incoming_webhook import METHOD  # noqa: E402
from bot.sandbox.store import Call  # noqa: E402
from tests.support.services import alertmanager_binary, free_port  # noqa: E402

GROUPS = 500
ALERTS_PER_GROUP = 10
SECONDS = 10.0
SHARDS = 20
CHANNELS = [f"CSTORM{i:02d}" for i in range(SHARDS)]
P0_CHANNEL = "C0000INCID"
HOOK_PATH = "services/T0SANDBOX1/B0STORM001/storm"
FIRING = re.compile(r"\[FIRING:(\d+)\] (Storm\d{3})")


def config(api_url: str) -> str:
    routes = [
        {"matchers": ['severity="critical"'], "receiver": "incidents", "continue": False},
        *({"matchers": [f'shard="{i:02d}"'], "receiver": f"shard-{i:02d}"} for i in range(SHARDS)),
    ]
    receivers = [
        {"name": "default"},
        {"name": "incidents", "slack_configs": [{"api_url": api_url, "channel": "#incidents"}]},
        *(
            {
                "name": f"shard-{i:02d}",
                "slack_configs": [{"api_url": api_url, "channel": f"#{CHANNELS[i].lower()}"}],
            }
            for i in range(SHARDS)
        ),
    ]
    data = {
        "route": {
            "receiver": "default",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "5s",
            "repeat_interval": "4h",
            "routes": routes,
        },
        "receivers": receivers,
    }
    return json.dumps(data, indent=1)  # JSON is YAML


def alerts(index: int, first: int, count: int, *, severity: str = "warning") -> list[Any]:
    name = f"Storm{index:03d}"
    starts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    labels = {"alertname": name, "severity": severity, "service": "api"}
    if severity != "critical":
        labels["shard"] = f"{index % SHARDS:02d}"
    return [
        {
            "labels": {**labels, "instance": f"node-{n}:9100"},
            "annotations": {"summary": f"{name} on node {n}"},
            "startsAt": starts,
            "generatorURL": "http://prometheus:9090/graph",
        }
        for n in range(first, first + count)
    ]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def firing(call: Call) -> list[tuple[str, int]]:
    """(group, alerts shown) for each attachment title of one webhook post."""
    found = []
    for attachment in call.args.get("attachments") or []:
        for count, name in FIRING.findall(str(attachment.get("title", ""))):
            found.append((name, int(count)))
    return found


async def post(http: aiohttp.ClientSession, url: str, body: list[Any]) -> None:
    for _ in range(50):
        try:
            async with http.post(f"{url}/api/v2/alerts", json=body) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("Alertmanager never accepted the alerts")


def read(log: Path) -> str:
    return log.read_text(errors="replace")


async def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            if process.poll() is not None:
                raise AssertionError(f"Alertmanager exited:\n{read(log)}")
            try:
                async with http.get(f"{url}/-/ready") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"Alertmanager never became ready:\n{read(log)}")


async def one_run(wait: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="storm-am-"))
    emu = SlackEmulator()
    default_workspace(emu)
    for channel in CHANNELS:
        emu.add_channel(channel, channel.lower())
    emu.rate_limit = True
    await emu.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (tmp / "alertmanager.yml").write_text(config(f"{emu.url}{HOOK_PATH}"))
    log = tmp / "alertmanager.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                alertmanager_binary(),
                f"--config.file={tmp / 'alertmanager.yml'}",
                f"--storage.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                f"--web.external-url={url}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        await wait_ready(url, process, log)
        # As the bot sees it: every group first with 5 alerts, then with all 10.
        half = ALERTS_PER_GROUP // 2
        bodies = [alerts(i, 0, half) for i in range(GROUPS)] + [
            alerts(i, half, ALERTS_PER_GROUP - half) for i in range(GROUPS)
        ]
        interval = SECONDS / len(bodies)
        p0_sent = 0.0
        began = time.monotonic()
        async with aiohttp.ClientSession() as http:
            tasks = []
            for index, body in enumerate(bodies):
                target = began + index * interval
                await asyncio.sleep(max(0.0, target - time.monotonic()))
                tasks.append(asyncio.create_task(post(http, url, body)))
                if index == len(bodies) // 2:
                    p0_sent = time.monotonic()
                    await post(http, url, alerts(999, 0, 1, severity="critical"))
            await asyncio.gather(*tasks)
        last_post = time.monotonic()
        names = {f"Storm{i:03d}" for i in range(GROUPS)}

        def complete() -> set[str]:
            return {
                name
                for c in emu.calls(METHOD)
                if c.status == 200
                for name, count in firing(c)
                if count == ALERTS_PER_GROUP
            }

        finished: float | None = None
        while time.monotonic() < last_post + wait:
            if names <= complete():
                finished = time.monotonic()
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        calls = emu.calls(METHOD)
        accepted = [c for c in calls if c.status == 200]
        p0 = next(
            (c for c in accepted if any(n == "Storm999" for n, _ in firing(c))),
            None,
        )
        newest: dict[str, int] = {}
        for c in accepted:
            for name, count in firing(c):
                newest[name] = count
        log_text = read(log)
        return {
            "p0_latency_s": None if p0 is None else p0.at - p0_sent,
            "slack_calls": len(calls),
            "accepted": len(accepted),
            "answered_429": sum(1 for c in calls if c.status == 429),
            "other_errors": sum(1 for c in calls if c.status not in (200, 429)),
            "all_delivered_s": None if finished is None else finished - began,
            "lost_groups": len(names - newest.keys()),
            "stale_groups": sum(1 for n in names if 0 < newest.get(n, 0) < ALERTS_PER_GROUP),
            "messages_per_group_max": max(
                (sum(1 for c in accepted for m, _ in firing(c) if m == n) for n in names),
                default=0,
            ),
            "notify_failed_log_lines": log_text.count("Notify for alerts failed"),
            "peak_rss_mb": round(peak_rss_mb(process.pid), 1),
        }
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        await emu.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--wait", type=float, default=100.0, help="seconds after the last POST to give up"
    )
    args = parser.parse_args()
    results = []
    for run in range(args.runs):
        result = await one_run(args.wait)
        print(f"run {run + 1}: {result}", flush=True)
        results.append(result)
    latencies = sorted(r["p0_latency_s"] for r in results if r["p0_latency_s"] is not None)
    if latencies:
        p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
        print(
            f"P0 alert->Slack p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms over {len(latencies)} of {len(results)} runs"
        )
    else:
        print(f"the P0 never reached Slack in {len(results)} runs")


if __name__ == "__main__":
    asyncio.run(main())

"""Storm benchmark: 5,000 alerts in 500 groups over 10 s, one P0 in the middle, Slack's
rate limit enforced by the emulator; one `chatops serve` on PostgreSQL.

    .venv/bin/python benchmarks/storm/run.py --runs 3

Reports P0 webhook-to-Slack latency (p50/p99 over the runs), Slack calls, calls answered
429, time until every group is in Slack (own message or storm summary, then unfolded),
and the bot process's peak RSS (VmHWM). Not a test: figures go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.sandbox.emulator import SlackEmulator, default_workspace  # noqa: E402
from tests.storm import conftest as helpers  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402

GROUPS = 500
ALERTS_PER_GROUP = 10
SECONDS = 10.0


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def one_run(threshold: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="storm-bench-"))
    emu = SlackEmulator(token=helpers.BOT_TOKEN, signing_secret=helpers.SIGNING_SECRET)
    default_workspace(emu)
    for channel in helpers.CHANNELS:
        emu.add_channel(channel, channel.lower())
    emu.rate_limit = True
    await emu.start()
    try:
        async with fresh_database("postgres", tmp) as url:
            starter = helpers.start_replica.__wrapped__(tmp, emu)  # type: ignore[attr-defined]
            start = await starter.__anext__()
            config = helpers.storm_config(tmp, threshold=threshold, calm="5s")
            replica = await start(url, config, "bench")
            # Alertmanager sends a group's alerts as the group grows: 5, then 10.
            bodies = [
                helpers.group_notification(i, alerts=5, shard=f"{i % 20:02d}")
                for i in range(GROUPS)
            ] + [
                helpers.group_notification(i, alerts=ALERTS_PER_GROUP, shard=f"{i % 20:02d}")
                for i in range(GROUPS)
            ]
            interval = SECONDS / len(bodies)
            p0_answered = 0.0
            p0_sent = 0.0
            began = time.monotonic()
            async with aiohttp.ClientSession() as http:
                tasks = []
                for index, body in enumerate(bodies):
                    target = began + index * interval
                    await asyncio.sleep(max(0.0, target - time.monotonic()))
                    tasks.append(asyncio.create_task(helpers.post(http, replica.url, body)))
                    if index == len(bodies) // 2:
                        p0_sent = time.monotonic()
                        p0 = helpers.group_notification(999, alerts=1, severity="critical")
                        p0_answered = await helpers.post(http, replica.url, p0)
                await asyncio.gather(*tasks)
            names = [f"Storm{i:03d}" for i in range(GROUPS)]

            def done() -> bool:
                return all(helpers.own_posts(emu, n) for n in names)

            await helpers.wait_until(done, 900, "every group")
            finished = time.monotonic()
            await asyncio.sleep(2)
            p0_call = next(
                c
                for c in emu.calls("chat.postMessage")
                if c.status == 200 and "Storm999" in str(c.args.get("text"))
            )
            doubled = sum(1 for n in names if len(helpers.own_posts(emu, n)) != 1)
            calls = [c for c in emu.calls() if c.method != "auth.test"]
            result = {
                "p0_latency_s": p0_call.at - p0_sent,
                "p0_after_2xx_s": p0_call.at - p0_answered,
                "slack_calls": len(calls),
                "posts": sum(1 for c in calls if c.method == "chat.postMessage"),
                "updates": sum(1 for c in calls if c.method == "chat.update"),
                "answered_429": sum(1 for c in calls if c.status == 429),
                "all_delivered_s": finished - began,
                "summaries": len(helpers.summaries(emu)),
                "lost_or_doubled": doubled,
                "peak_rss_mb": peak_rss_mb(replica.process.pid),
            }
            replica.stop()
            return result
    finally:
        await emu.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threshold", type=int, default=20)
    args = parser.parse_args()
    results = []
    for run in range(args.runs):
        result = await one_run(args.threshold)
        print(f"run {run + 1}: {result}", flush=True)
        results.append(result)
    latencies = sorted(r["p0_latency_s"] for r in results)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(
        f"P0 webhook->Slack p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms over {len(results)} runs"
    )


if __name__ == "__main__":
    asyncio.run(main())

"""Storm benchmark: 5,000 alerts in 500 groups over 10 s, Slack's rate limit enforced by
the emulator, P0s in the middle of the storm's own channels; one `chatops serve` on
PostgreSQL, or `--replicas 2` behind a round-robin balancer (each notification to the
next replica, as a Service spreads Alertmanager's POSTs over pods).

    .venv/bin/python benchmarks/storm/run.py --runs 1
    .venv/bin/python benchmarks/storm/run.py --runs 1 --replicas 2

500 groups over 20 channels (25 a channel; `--channels 1` puts them all in one), each
sent as Alertmanager sends a growing group (5 alerts, then 10): 1,000 notifications
evenly over 10 s. Twenty P0s, one every 0.4 s from the 1st second, each routed into a
storm channel (`CSTORM00`..), so every P0 competes with a backlog (`--p0s`, `--p0-every`
change that: with all groups in one channel, twenty P0s 0.4 s apart would queue behind
each other at Slack's one message a second). Reports, per run and over all P0s of all runs:

* P0 webhook -> Slack, p50 / p99 (from just before its POST to the emulator recording its
  chat.postMessage; same process, same monotonic clock);
* seconds until every group is named in Slack (its own message, a line of the newest
  version of a storm summary, or a reply in a summary's thread), from the first webhook, and the worst time from a group's
  first webhook to it being named;
* Slack calls, calls answered 429, and calls after the storm (from the moment every group
  is named and every summary says the storm is over, for 20 s);
* the bot processes' peak RSS (VmHWM), the largest of the replicas.

Not a test: figures go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.sandbox.emulator import SlackEmulator, default_workspace  # noqa: E402
from tests.storm import conftest as helpers  # noqa: E402
from tests.support.databases import fresh_database  # noqa: E402

GROUPS = 500
ALERTS_PER_GROUP = 10
SECONDS = 10.0
P0S = 20
AFTER_STORM = 20.0


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def p0_body(shard: int, index: int) -> dict[str, Any]:
    return helpers.group_notification(index, alerts=1, severity="critical", shard=f"{shard:02d}")


def named(emu: SlackEmulator, names: list[str], seen: dict[str, float]) -> None:
    """Record when each group is first named in Slack (own message, a summary line, or a
    reply in a summary's thread naming groups the summary does not list yet)."""
    now = time.monotonic()
    summaries = helpers.named_in_summaries(emu) + "\n".join(
        helpers.block_texts(r.blocks)
        for s in helpers.summaries(emu)
        for r in emu.replies(s.channel, s.ts)
    )
    own = " ".join(
        m.text
        for c in helpers.CHANNELS
        for m in emu.messages(c)
        if not m.text.startswith(helpers.SUMMARY_ICONS)
    )
    for name in names:
        if name not in seen and (name in summaries or name in own):
            seen[name] = now


async def one_run(
    threshold: int, channels: int, p0s: int, p0_every: float, replicas: int
) -> dict[str, Any]:
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
            # Each P0 goes to its route's storm channel (see p0_body), not to #incidents.
            data = yaml.safe_load(config.read_text())
            data["alerts"]["escalation"]["P0"]["channel"] = None
            config.write_text(yaml.safe_dump(data))
            started = [await start(url, config, f"bench{n}") for n in range(replicas)]
            turn = 0

            def next_url() -> str:
                nonlocal turn
                turn += 1
                return str(started[turn % len(started)].url)

            bodies = [
                helpers.group_notification(i, alerts=5, shard=f"{i % channels:02d}")
                for i in range(GROUPS)
            ] + [
                helpers.group_notification(i, alerts=ALERTS_PER_GROUP, shard=f"{i % channels:02d}")
                for i in range(GROUPS)
            ]
            names = [f"Storm{i:03d}" for i in range(GROUPS)]
            first_sent: dict[str, float] = {}
            seen: dict[str, float] = {}
            interval = SECONDS / len(bodies)
            p0_sent: dict[str, float] = {}
            began = time.monotonic()
            async with aiohttp.ClientSession() as http:
                tasks = []
                next_p0 = 0
                for index, body in enumerate(bodies):
                    target = began + index * interval
                    await asyncio.sleep(max(0.0, target - time.monotonic()))
                    first_sent.setdefault(str(body["groupLabels"]["alertname"]), time.monotonic())
                    tasks.append(asyncio.create_task(helpers.post(http, next_url(), body)))
                    if next_p0 < p0s and time.monotonic() - began >= 1.0 + next_p0 * p0_every:
                        p0_sent[f"Storm{900 + next_p0:03d}"] = time.monotonic()
                        p0 = p0_body(next_p0 % channels, 900 + next_p0)
                        tasks.append(asyncio.create_task(helpers.post(http, next_url(), p0)))
                        next_p0 += 1
                    if index % 50 == 0:
                        named(emu, names, seen)
                await asyncio.gather(*tasks)
            deadline = time.monotonic() + 300
            while len(seen) < len(names) and time.monotonic() < deadline:
                named(emu, names, seen)
                await asyncio.sleep(0.1)
            all_named = max(seen.values()) - began if len(seen) == len(names) else float("nan")
            worst_named = max(seen[n] - first_sent[n] for n in seen)

            def storm_over() -> bool:
                summaries = helpers.summaries(emu)
                return all("Storm over" in m.text for m in summaries)

            while not storm_over() and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            over_at = time.monotonic()  # every group named and every summary says "over"
            await asyncio.sleep(AFTER_STORM)
            latencies = []
            for name, sent in p0_sent.items():
                call = next(
                    c
                    for c in emu.calls("chat.postMessage")
                    if c.status == 200
                    and "thread_ts" not in c.args
                    and name in str(c.args.get("text"))
                )
                latencies.append(call.at - sent)
            calls = [c for c in emu.calls() if c.method != "auth.test"]
            result = {
                "p0_latencies_s": latencies,
                "slack_calls": len(calls),
                "posts": sum(1 for c in calls if c.method == "chat.postMessage"),
                "updates": sum(1 for c in calls if c.method == "chat.update"),
                "answered_429": sum(1 for c in calls if c.status == 429),
                "answered_429_by_method": dict(Counter(c.method for c in calls if c.status == 429)),
                "every_group_named_s": all_named,
                "worst_group_named_after_its_webhook_s": worst_named,
                "calls_after_storm": sum(1 for c in calls if c.at > over_at),
                "calls_after_storm_by_method": dict(
                    Counter(c.method for c in calls if c.at > over_at)
                ),
                "summaries": len(helpers.summaries(emu)),
                "folded": sum(1 for n in names if n in helpers.named_in_summaries(emu)),
                "peak_rss_mb": max(peak_rss_mb(r.process.pid) for r in started),
            }
            for replica in started:
                replica.stop()
            return result
    finally:
        await emu.stop()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--threshold", type=int, default=8)
    parser.add_argument("--channels", type=int, default=20, help="storm channels (1-20)")
    parser.add_argument("--p0s", type=int, default=P0S, help="P0s a run, in the first 10 s")
    parser.add_argument(
        "--p0-every",
        type=float,
        default=0.4,
        help="seconds between P0s; in one channel, P0s closer than Slack's pace (each P0 "
        "also posts a thread note) queue behind each other, not behind the storm",
    )
    parser.add_argument("--replicas", type=int, default=1, help="`chatops serve` processes")
    args = parser.parse_args()
    latencies: list[float] = []
    for run in range(args.runs):
        result = await one_run(
            args.threshold, args.channels, args.p0s, args.p0_every, args.replicas
        )
        latencies += result["p0_latencies_s"]
        shown = {k: v for k, v in result.items() if k != "p0_latencies_s"}
        print(f"run {run + 1}: {shown}", flush=True)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(
        f"P0 webhook->Slack p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms over {len(latencies)} P0s"
    )


if __name__ == "__main__":
    asyncio.run(main())

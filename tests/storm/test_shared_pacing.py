"""Two `chatops serve` replicas on PostgreSQL share one channel's pace.

Both replicas claim from the same channel's queue. Slack's limit is per channel, not per
client: above about one post a second it may hide messages without answering 429, so the
two replicas together must stay within one bucket. Here the emulator's rate limit is on
and no storm folds anything (a threshold no backlog reaches), so every group is posted on
its own and the channel's posts are the whole test of the pace.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.limits import BURST, REFILL_PER_SECOND
from tests.storm.conftest import (
    CHANNELS,
    StartReplica,
    group_notification,
    own_posts,
    post,
    storm_config,
    wait_until,
)

CHANNEL = CHANNELS[0]
GROUPS = 12


async def posts_made(http: aiohttp.ClientSession, url: str) -> float:
    """chat.postMessage calls Slack accepted from this replica (its /metrics)."""
    async with http.get(f"{url}/metrics") as response:
        body = await response.text()
    wanted = 'chatops_slack_calls_total{method="chat.postMessage",outcome="ok"}'
    return sum(float(line.split()[-1]) for line in body.splitlines() if line.startswith(wanted))


def over_the_limit(times: list[float]) -> list[tuple[int, int]]:
    """Stretches of posts more than a bucket of `BURST` refilled at `REFILL_PER_SECOND`
    lets through (with a tenth of a token for the test's own clock reads)."""
    return [
        (i, j)
        for i in range(len(times))
        for j in range(i + 1, len(times))
        if j - i + 1 > BURST + (times[j] - times[i]) * REFILL_PER_SECOND + 0.1
    ]


async def test_two_replicas_post_to_one_channel_within_one_bucket(
    pg_url: str, start_replica: StartReplica, storm_emulator: SlackEmulator, tmp_path: Path
) -> None:
    storm_emulator.rate_limit = True
    config = storm_config(tmp_path, threshold=100_000, calm="1s")
    urls = [(await start_replica(pg_url, config, name)).url for name in "ab"]
    names = [f"Storm{i:03d}" for i in range(GROUPS)]
    async with aiohttp.ClientSession() as http:
        # Each notification to one replica, alternately, all at once: both replicas'
        # workers wake with the whole backlog queued in one channel.
        await asyncio.gather(
            *(
                post(http, urls[i % 2], group_notification(i, alerts=2, shard="00"))
                for i in range(GROUPS)
            )
        )
    await wait_until(
        lambda: all(own_posts(storm_emulator, n) for n in names), 90, "every group posted"
    )
    await asyncio.sleep(1.5)  # a replica pacing on its own would still be sending

    calls = [
        c for c in storm_emulator.calls("chat.postMessage") if c.args.get("channel") == CHANNEL
    ]
    assert [c for c in calls if c.status == 429] == []
    accepted = sorted(c.at for c in calls if c.status == 200)
    assert over_the_limit(accepted) == []
    assert [n for n in names if len(own_posts(storm_emulator, n)) != 1] == []
    async with aiohttp.ClientSession() as http:
        made = [await posts_made(http, url) for url in urls]
    assert all(made), made  # both replicas posted: the pace was shared, not taken by one

"""The storm of the storm issue through `chatops serve` and the emulator with Slack's
per-channel rate limit on: 100 alert groups of 10 alerts in one channel, a P0 for the
same channel in the middle. The P0 goes out ahead of the backlog, every group is named in
Slack, Slack never answers 429, and the storm's end floods nobody."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from bot.sandbox.emulator import SlackEmulator
from tests.storm.conftest import (
    CHANNELS,
    StartReplica,
    group_notification,
    named_in_summaries,
    own_posts,
    post,
    storm_config,
    summaries,
    wait_until,
)

CHANNEL = CHANNELS[0]
GROUPS = 100
P0_AT = 50
NAMES = [f"Storm{i:03d}" for i in range(GROUPS)]


async def storm_in_one_channel(http: aiohttp.ClientSession, urls: list[str]) -> float:
    """100 groups (10 alerts each), 16 notifications in flight, the P0 half-way; each
    notification to every url (Alertmanager in HA). Returns when the P0 was answered."""
    gate = asyncio.Semaphore(16)
    p0_answered = 0.0

    async def send(index: int) -> None:
        nonlocal p0_answered
        async with gate:
            body = group_notification(index, alerts=10, shard="00")
            await asyncio.gather(*(post(http, url, body) for url in urls))
        if index == P0_AT:
            p0 = group_notification(999, alerts=1, severity="critical", shard="00")
            answered = await asyncio.gather(*(post(http, url, p0) for url in urls))
            p0_answered = min(answered)

    await asyncio.gather(*(send(i) for i in range(GROUPS)))
    return p0_answered


def outbox_id(args: dict[str, Any]) -> int:
    """The outbox row a post was made for (its message metadata)."""
    return int(args["metadata"]["event_payload"]["outbox_id"])


def every_group_named(emulator: SlackEmulator) -> bool:
    named = named_in_summaries(emulator)
    return all(own_posts(emulator, name) or name in named for name in NAMES)


def storm_over(emulator: SlackEmulator) -> bool:
    return any("Storm over" in m.text for m in summaries(emulator))


async def storm_on_replicas(
    start_replica: StartReplica,
    emulator: SlackEmulator,
    database: str,
    tmp_path: Path,
    *,
    replicas: int,
) -> None:
    """The storm, Slack's rate limit on, with every notification sent to each replica."""
    emulator.rate_limit = True
    config = storm_config(tmp_path, threshold=8, calm="2s", p0_channel=CHANNEL)
    urls = [(await start_replica(database, config, name)).url for name in "ab"[:replicas]]
    async with aiohttp.ClientSession() as http:
        await storm_in_one_channel(http, urls)


async def test_the_p0_goes_first_every_group_is_named_and_calm_floods_nobody(
    pg_url: str, start_replica: StartReplica, storm_emulator: SlackEmulator, tmp_path: Path
) -> None:
    await storm_on_replicas(start_replica, storm_emulator, pg_url, tmp_path, replicas=1)

    await wait_until(lambda: bool(own_posts(storm_emulator, "Storm999")), 30, "the P0")
    (p0,) = own_posts(storm_emulator, "Storm999")
    posts = [
        c
        for c in storm_emulator.calls("chat.postMessage")
        if c.status == 200 and c.args.get("channel") == CHANNEL and "thread_ts" not in c.args
    ]
    order = [outbox_id(c.args) for c in posts]
    p0_id = outbox_id(next(c.args for c in posts if c.response.get("ts") == p0.ts))
    before_p0 = order[: order.index(p0_id)]
    # The P0 jumps the queue: nothing queued after it goes out first.
    assert all(i < p0_id for i in before_p0)

    await wait_until(lambda: every_group_named(storm_emulator), 60, "every group named")
    assert len(summaries(storm_emulator)) == 1  # one summary for the storm
    await wait_until(lambda: storm_over(storm_emulator), 90, "the storm's end")
    posts_at_calm = len(storm_emulator.calls("chat.postMessage"))
    await asyncio.sleep(4)  # the old code re-posted every folded group from here on

    assert [c for c in storm_emulator.calls() if c.status == 429] == []
    assert len(storm_emulator.calls("chat.postMessage")) == posts_at_calm
    named = named_in_summaries(storm_emulator)
    folded = [n for n in NAMES if n in named]
    assert folded, "the storm folded no group"
    assert [n for n in folded if own_posts(storm_emulator, n)] == []  # none posted after calm
    assert [n for n in NAMES if len(own_posts(storm_emulator, n)) > 1] == []
    assert len(own_posts(storm_emulator, "Storm999")) == 1


async def test_two_replicas_post_one_summary_and_nothing_twice(
    pg_url: str, start_replica: StartReplica, storm_emulator: SlackEmulator, tmp_path: Path
) -> None:
    await storm_on_replicas(start_replica, storm_emulator, pg_url, tmp_path, replicas=2)
    await wait_until(lambda: every_group_named(storm_emulator), 60, "every group named")
    await wait_until(lambda: storm_over(storm_emulator), 90, "the storm's end")
    await asyncio.sleep(2)
    assert len(summaries(storm_emulator)) == 1
    # The two replicas pace the channel together: Slack never had to refuse a post.
    assert [c for c in storm_emulator.calls() if c.status == 429] == []
    named = named_in_summaries(storm_emulator)
    assert [n for n in NAMES if len(own_posts(storm_emulator, n)) > 1] == []
    assert [n for n in NAMES if own_posts(storm_emulator, n) and n in named] == []
    assert len(own_posts(storm_emulator, "Storm999")) == 1

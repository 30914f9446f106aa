"""Slack slow in one channel: `chatops serve` keeps every other channel going.

In Slack's own incidents a call can hang for many seconds. The emulator holds one
channel's calls (and handles them when the hold ends, as Slack does with a call whose
client gave up), while a P0 arrives for another channel: the P0 must not wait for the
hung call, and the hung post, once it lands, must not be posted a second time.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import OutboxEntry
from tests.storm.conftest import (
    CHANNELS,
    P0_CHANNEL,
    StartReplica,
    group_notification,
    own_posts,
    post,
    storm_config,
    wait_until,
)

SLOW = CHANNELS[0]


async def row_states(pg_url: str) -> list[tuple[str, str, str]]:
    engine = create_async_engine(pg_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(OutboxEntry.channel, OutboxEntry.op, OutboxEntry.state)
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        await engine.dispose()


async def test_a_hung_channel_holds_neither_a_p0_elsewhere_nor_posts_twice(
    pg_url: str, start_replica: StartReplica, storm_emulator: SlackEmulator, tmp_path: Path
) -> None:
    replica = await start_replica(pg_url, storm_config(tmp_path, threshold=100_000))
    storm_emulator.hang(20, channel=SLOW)
    async with aiohttp.ClientSession() as http:
        await post(http, replica.url, group_notification(1, alerts=1, shard="00"))
        await wait_until(lambda: storm_emulator.held_calls >= 1, 10, "the post held")
        answered = await post(
            http, replica.url, group_notification(999, alerts=1, severity="critical")
        )
        await wait_until(lambda: bool(own_posts(storm_emulator, "Storm999")), 5, "the P0")
    [p0] = own_posts(storm_emulator, "Storm999")
    assert p0.channel == P0_CHANNEL
    posted = p0.versions[0].at  # the emulator's clock is time.monotonic
    assert posted - answered < 0.5, f"the P0 waited {posted - answered:.1f} s for another channel"
    assert own_posts(storm_emulator, "Storm001") == []  # still hung

    # The bot gives up on the hung post after a few seconds and looks it up before
    # posting again; that lookup is held too. Then Slack recovers: the held post lands.
    started = time.monotonic()
    await wait_until(lambda: storm_emulator.held_calls >= 2, 15, "the lookup after the timeout")
    assert time.monotonic() - started < 10
    storm_emulator.release()

    deadline = time.monotonic() + 20
    while (SLOW, "post", "sent") not in (states := await row_states(pg_url)):
        assert time.monotonic() < deadline, states
        await asyncio.sleep(0.2)
    posts = [
        c
        for c in storm_emulator.calls("chat.postMessage")
        if c.args.get("channel") == SLOW and c.status == 200 and c.response.get("ok")
    ]
    assert len(posts) == 1, [c.args.get("text") for c in posts]
    assert len(own_posts(storm_emulator, "Storm001")) == 1

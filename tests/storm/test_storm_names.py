"""Storms in several channels at once, Slack's limits enforced by the emulator: every new
alert group is named in its channel within 10 s of its webhook while Slack's
workspace-wide limit on message updates (Tier 3, 50 a minute) is spent, as twenty storm
summaries spend it (bot/alerts/storm_names.py names the new groups in the summaries'
threads meanwhile), and Slack never answers 429."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.sandbox.emulator import SlackEmulator
from bot.slack.outbox.pacing import UPDATE_KEY
from tests.storm.conftest import (
    CHANNELS,
    SUMMARY_ICONS,
    StartReplica,
    block_texts,
    group_notification,
    post,
    storm_config,
    wait_until,
)

STORMING = CHANNELS[:5]
PER_CHANNEL = 16
SECONDS = 6.0
NAMES = {
    f"Storm{c * PER_CHANNEL + k:03d}": channel
    for c, channel in enumerate(STORMING)
    for k in range(PER_CHANNEL)
}
# The update bucket as twenty storming summaries leave it: nothing to spend for about
# 17 s (12 tokens owed, then the 2.25 a non-urgent call needs, at 50 a minute).
OWED = -12.0


async def spend_update_bucket(database_url: str) -> None:
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO slack_channel_pace (channel, tokens, tokens_at, blocked_until) "
                "VALUES (:key, :tokens, :at, 0) ON CONFLICT (channel) DO UPDATE "
                "SET tokens = :tokens, tokens_at = :at"
            ),
            {"key": UPDATE_KEY, "tokens": OWED, "at": time.time()},
        )
    await engine.dispose()


def channel_text(emulator: SlackEmulator, channel: str) -> str:
    """Everything the channel shows now: its messages, and the summaries' threads."""
    parts = []
    for message in emulator.messages(channel):
        parts += [message.text, block_texts(message.blocks)]
        if message.text.startswith(SUMMARY_ICONS):
            for reply in emulator.replies(channel, message.ts):
                parts += [reply.text, block_texts(reply.blocks)]
    return "\n".join(parts)


async def test_storming_channels_name_each_new_group_within_10_s_while_updates_wait(
    pg_url: str, start_replica: StartReplica, storm_emulator: SlackEmulator, tmp_path: Path
) -> None:
    storm_emulator.rate_limit = True
    replica = await start_replica(pg_url, storm_config(tmp_path, threshold=1, calm="2s"))
    await spend_update_bucket(pg_url)
    sent: dict[str, float] = {}
    named: dict[str, float] = {}

    def look() -> bool:
        now = time.monotonic()
        shown = {c: channel_text(storm_emulator, c) for c in STORMING}
        for name, channel in NAMES.items():
            if name in sent and name not in named and name in shown[channel]:
                named[name] = now
        return len(named) == len(NAMES)

    async def watch() -> None:
        for _ in range(600):  # every 0.1 s, for at most a minute
            if look():
                return
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    gate = asyncio.Semaphore(16)  # notifications in flight, as in the storm benchmark

    async def send(http: aiohttp.ClientSession, index: int, name: str) -> None:
        await asyncio.sleep(index * SECONDS / len(NAMES))  # evenly, channels in turn
        shard = CHANNELS.index(NAMES[name])
        async with gate:
            body = group_notification(int(name[5:]), alerts=2, shard=f"{shard:02d}")
            sent[name] = await post(http, replica.url, body)

    async with aiohttp.ClientSession() as http:
        order = sorted(NAMES, key=lambda n: (int(n[5:]) % PER_CHANNEL, n))
        await asyncio.gather(*(send(http, i, name) for i, name in enumerate(order)))
    await wait_until(watcher.done, 40, "every group named")

    worst = max(named[n] - sent[n] for n in NAMES)
    assert worst <= 10.0, f"a group was named {worst:.1f} s after its webhook"
    assert [c.method for c in storm_emulator.calls() if c.status == 429] == []
    summaries = [
        m for c in STORMING for m in storm_emulator.messages(c) if m.text.startswith(SUMMARY_ICONS)
    ]
    assert len(summaries) == len(STORMING)  # every channel stormed

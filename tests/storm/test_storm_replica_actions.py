"""Two `chatops serve` replicas on PostgreSQL, a storm in one channel, and the summary's
Acknowledge all and Silence all 1h clicked on both replicas at the same moment: one
summary, each group acknowledged once and silenced once in Debian's Alertmanager."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bot.sandbox.emulator import SlackEmulator
from bot.storage.engine import create_engine, session_factory
from bot.storage.models import AlertGroup, AuditEvent
from tests.storm.conftest import (
    StartReplicaWithEnv,
    own_posts,
    storm_config,
    summaries,
    wait_until,
)
from tests.storm.test_storm_actions import storm_value
from tests.storm.test_storm_summary import CHANNEL, every_group_named, storm_in_one_channel
from tests.support.alertmanager import alertmanager

RESPONDER = "U0000ONC01"  # in the example's responders (S0000ONCAL)
NOWHERE = "http://127.0.0.1:9/"


async def listed_groups(pg_url: str) -> dict[int, str]:
    """The folded groups without a message of their own, by id: their alertnames."""
    engine = create_engine(pg_url)
    try:
        async with session_factory(engine)() as session:
            groups = (
                await session.scalars(select(AlertGroup).where(AlertGroup.storm_id.is_not(None)))
            ).all()
            return {g.id: str(g.group_labels["alertname"]) for g in groups}
    finally:
        await engine.dispose()


async def audited(pg_url: str, action: str) -> Counter[str]:
    engine = create_engine(pg_url)
    try:
        async with session_factory(engine)() as session:
            subjects = await session.scalars(
                select(AuditEvent.subject).where(AuditEvent.action == action)
            )
            return Counter(subjects.all())
    finally:
        await engine.dispose()


async def wait_audited(pg_url: str, action: str, groups: int) -> None:
    """Until `groups` subjects have an `action` event (the clicks run after Slack's ack)."""
    for _ in range(600):
        if len(await audited(pg_url, action)) >= groups:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{action} never reached {groups} groups")


async def click_on_both(
    emulator: SlackEmulator, urls: list[str], action: str, value: str, ts: str
) -> None:
    """The same control clicked on each replica at once (two people, two pods)."""

    async def click(url: str) -> None:
        emulator.bot_url = f"{url}/slack/events"  # read before the request's first await
        response = await emulator.send_block_action(
            user=RESPONDER, action_id=action, value=value, channel=CHANNEL, message_ts=ts
        )
        assert response.status == 200

    await asyncio.gather(*(click(url) for url in urls))


async def test_ack_all_and_silence_all_on_both_replicas_act_once_per_group(
    pg_url: str,
    start_replica_with_env: StartReplicaWithEnv,
    storm_emulator: SlackEmulator,
    tmp_path: Path,
) -> None:
    storm_emulator.rate_limit = True
    config = storm_config(tmp_path, threshold=8, calm="2s", p0_channel=CHANNEL)
    async with alertmanager(NOWHERE, "unused", tmp_path) as am:
        env = {"ALERTMANAGER_URL": am.url}
        urls = [
            (await start_replica_with_env(pg_url, config, name, extra_env=env)).url for name in "ab"
        ]
        async with aiohttp.ClientSession() as http:
            await storm_in_one_channel(http, urls)
        await wait_until(lambda: every_group_named(storm_emulator), 60, "every group named")
        [summary] = summaries(storm_emulator)  # one summary for the storm, not one a replica
        listed = {
            gid: name
            for gid, name in (await listed_groups(pg_url)).items()
            if not own_posts(storm_emulator, name)
        }
        assert listed, "the storm folded no group"

        ack = storm_value(summary, "storm.ack_all")
        await click_on_both(storm_emulator, urls, "storm.ack_all", ack, summary.ts)
        await wait_audited(pg_url, "alert.acknowledged", len(listed))
        silence = storm_value(summary, "storm.silence_all")
        await click_on_both(storm_emulator, urls, "storm.silence_all", silence, summary.ts)
        await wait_audited(pg_url, "alert.silenced", len(listed))
        await asyncio.sleep(2)  # a second replica's doubles would have come by now

        expected = {f"alert-group:{gid}" for gid in listed}
        acked = await audited(pg_url, "alert.acknowledged")
        assert set(acked) == expected and set(acked.values()) == {1}
        silenced = await audited(pg_url, "alert.silenced")
        assert set(silenced) == expected and set(silenced.values()) == {1}
        made = [s for s in await am.silences() if s["status"]["state"] == "active"]
        names = Counter(
            next(x["value"] for x in s["matchers"] if x["name"] == "alertname") for s in made
        )
        assert names == Counter(listed.values())  # one silence per group, none doubled
        assert len(summaries(storm_emulator)) == 1

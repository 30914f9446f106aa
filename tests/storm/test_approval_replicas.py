"""Two `chatops serve` processes on one PostgreSQL database: the approval reaction that
reaches quorum, delivered to both at once, runs the operation once."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.payloads import reaction_event
from tests.storm.conftest import StartReplica, deploy_requested, two_replicas

CHANNEL = "C0000DEPLY"


async def query(database_url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    url = make_url(database_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def test_an_approval_reaching_both_processes_runs_the_deploy_once(
    pg_url: str, start_replica: StartReplica, storm_emulator: SlackEmulator, tmp_path: Path
) -> None:
    first, second, _config = await two_replicas(start_replica, pg_url, tmp_path)
    emulator = storm_emulator
    _, request = await deploy_requested(emulator, first, CHANNEL)
    # Slack shows the message a moment before the outbox has recorded its ts; a reaction in
    # that instant would not be recognised (no person reacts within milliseconds).
    for _ in range(100):
        known = await query(pg_url, "SELECT 1 FROM slack_messages WHERE ts = $1", request.ts)
        if known:
            break
        await asyncio.sleep(0.1)
    await emulator.send_reaction(
        user="U0000APR01", reaction="white_check_mark", channel=CHANNEL, ts=request.ts
    )

    await emulator.wait_for(
        lambda: "1 of 2" in json.dumps(emulator.message(CHANNEL, request.ts).blocks),  # type: ignore[union-attr]
        timeout=15,
    )

    # The quorum-reaching reaction, signed once, sent to both processes at the same time.
    body = json.dumps(
        reaction_event(
            user="U0000APR02",
            reaction="white_check_mark",
            channel=CHANNEL,
            ts=request.ts,
            item_user=None,
            removed=False,
            event_id="Ev0BOTHREPLICAS",
            event_ts=f"{time.time():.6f}",
            event_time=int(time.time()),
        )
    ).encode()
    headers = {**emulator.sign(body), "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:

        async def deliver(url: str) -> int:
            async with http.post(f"{url}/slack/events", data=body, headers=headers) as r:
                return r.status

        # One takes it; the other sees the signature already accepted and refuses the copy.
        statuses = await asyncio.gather(deliver(first.url), deliver(second.url))
        assert sorted(statuses) == [200, 401]

    await emulator.wait_for(
        lambda: "Succeeded" in json.dumps(emulator.message(CHANNEL, request.ts).blocks),  # type: ignore[union-attr]
        timeout=30,
    )
    await asyncio.sleep(2)  # room for a second execution to show itself, if there were one
    started = await query(
        pg_url, "SELECT count(*) FROM audit_log WHERE action = 'operation.started'"
    )
    assert started[0][0] == 1
    [state] = await query(pg_url, "SELECT state FROM dryrun_targets")
    history = json.loads(state["state"]) if isinstance(state["state"], str) else state["state"]
    assert [e for e in history["history"] if "deploy" in e] == [
        {"deploy": "green", "version": "v1.4.0"}
    ]
    running = [
        r.text for r in emulator.replies(CHANNEL, request.ts) if r.text.startswith("🔄 Running")
    ]
    assert len(running) == 1

"""Killing the timer holder mid-escalation lets the other replica page on time, once.

Two real `chatops serve` processes share one fresh PostgreSQL database, the Slack
emulator and the PagerDuty test server. A P1 pages after `PAGE_AFTER`; the replica that
holds the escalation timer lock receives the alert, plans the page step, and is killed
with `kill -9` well before the step is due. The standby must take the lock over and send
the page: not early, not late, and not twice.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import yaml

from bot.config import BUNDLED_EXAMPLE
from bot.escalation.feature import LEADER_RETRY_SECONDS, SWEEP_SECONDS
from tests.servers.pagerduty import PagerDutyServer
from tests.storm.conftest import (
    Replica,
    StartReplicaWithEnv,
    group_notification,
    post,
    timer_leader_gauge,
    wait_until,
)

PAGE_AFTER = timedelta(seconds=6)
ROUTING_KEY = "R" * 32  # the Events API wants a 32-character integration key
# Database round trips, the HTTP call to the PagerDuty server and the test's own polling:
# small on a loaded CI machine too, but never zero.
SLACK = timedelta(seconds=1.5)


def failover_config(tmp_path: Path) -> Path:
    data: dict[str, Any] = yaml.safe_load(BUNDLED_EXAMPLE.read_text())
    # renotify_every must be >= 1m (alerts/config.py); page_after may be short.
    data["alerts"]["escalation"]["P1"] = {"page_after": "6s", "renotify_every": "1m"}
    path = tmp_path / "chatops.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def leader_and_standby(
    http: aiohttp.ClientSession, a: Replica, b: Replica
) -> tuple[Replica, Replica]:
    """Wait (bounded) until exactly one replica reports holding the timer lock."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        gauges = [await timer_leader_gauge(http, r) for r in (a, b)]
        if sorted(gauges, key=str) == [0.0, 1.0]:
            return (a, b) if gauges[0] == 1.0 else (b, a)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no single timer leader; gauges were {gauges}")


def triggers(pagerduty: PagerDutyServer, key: str) -> list[datetime]:
    """When each trigger event for `key` reached the PagerDuty server (wall clock)."""
    found = []
    for call in pagerduty.calls_to("/v2/enqueue"):
        event = call.json
        if event.get("event_action") == "trigger" and event.get("dedup_key") == key:
            found.append(call.at)
    return found


async def planned_page_step(db: asyncpg.Connection) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT id, group_id, due_at, state FROM escalation_steps WHERE kind = 'page'"
    )


async def test_killing_the_timer_holder_mid_escalation_pages_on_time_once(
    pg_url: str, start_replica_with_env: StartReplicaWithEnv, tmp_path: Path
) -> None:
    config = failover_config(tmp_path)
    async with PagerDutyServer() as pagerduty:
        env = {"PAGERDUTY_EVENTS_URL": pagerduty.url, "PAGERDUTY_ROUTING_KEY": ROUTING_KEY}
        a = await start_replica_with_env(pg_url, config, "a", extra_env=env)
        b = await start_replica_with_env(pg_url, config, "b", extra_env=env)
        db = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            async with aiohttp.ClientSession() as http:
                leader, standby = await leader_and_standby(http, a, b)

                # The alert goes to the leader: the standby never hears of it, so it can
                # only learn of the step from the database once it holds the lock.
                alert = group_notification(1, alerts=1, severity="error")  # error -> P1
                sent_at = datetime.now(UTC)
                await post(http, leader.url, alert)

                deadline = time.monotonic() + 5
                while (step := await planned_page_step(db)) is None:
                    assert time.monotonic() < deadline, "the P1's page step was never planned"
                    await asyncio.sleep(0.05)
                due: datetime = step["due_at"]
                key = f"chatops:group:{step['group_id']}"
                # Planned when the delivery was processed, right after the 2xx.
                assert PAGE_AFTER <= due - sent_at < PAGE_AFTER + timedelta(seconds=3)

                # Mid-escalation: the step is planned, not due, nothing paged yet.
                leader.kill()  # kill -9: no shutdown code, no unlock
                killed_at = datetime.now(UTC)
                assert step["state"] == "pending"
                assert killed_at < due - timedelta(seconds=LEADER_RETRY_SECONDS), (
                    "the kill came too late to test a take-over before the page is due"
                )
                assert triggers(pagerduty, key) == []

                # When may the page arrive? PostgreSQL frees the session advisory lock as
                # soon as the dead process's connection drops (at once for a kill -9 on
                # one host). The standby retries the lock every LEADER_RETRY_SECONDS, so it
                # leads by killed_at + LEADER_RETRY_SECONDS; on taking over it runs what is
                # due and re-arms its wheel for the step, and its sweep (every
                # SWEEP_SECONDS while leading) catches it anyway. So: never before `due`,
                # and no later than max(due, take-over) + one sweep + slack. With the kill
                # in the first seconds, that is due + 3.5 s; without a take-over the page
                # would never come.
                takeover = killed_at + timedelta(seconds=LEADER_RETRY_SECONDS)
                latest = max(due, takeover) + timedelta(seconds=SWEEP_SECONDS) + SLACK
                wait = (latest - datetime.now(UTC)).total_seconds() + 1
                await wait_until(lambda: bool(triggers(pagerduty, key)), wait, "the page")
                paged_at = triggers(pagerduty, key)[0]
                assert paged_at >= due, f"paged {(due - paged_at).total_seconds():.2f}s early"
                assert paged_at >= sent_at + PAGE_AFTER
                assert paged_at <= latest, (
                    f"paged {(paged_at - due).total_seconds():.2f}s after due "
                    f"(allowed {(latest - due).total_seconds():.2f}s)"
                )

                # Once: a double would come from another pass of the new leader (within a
                # sweep) or a recovered `sending` row; give it a sweep and a half.
                await asyncio.sleep(SWEEP_SECONDS * 1.5)
                assert len(triggers(pagerduty, key)) == 1
                assert len(pagerduty.incidents[key].actions) == 1
                pages = await db.fetch(
                    "SELECT state FROM pagerduty_pages WHERE dedup_key = $1 AND action = 'trigger'",
                    key,
                )
                assert [p["state"] for p in pages] == ["sent"]
                after = await planned_page_step(db)
                assert after is not None and after["state"] == "done"

                assert await timer_leader_gauge(http, standby) == 1.0
                assert standby.process.poll() is None
        finally:
            await db.close()

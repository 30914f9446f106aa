"""Two replicas on one PostgreSQL database: an approval reaction that reaches both (Slack's
retry landing on the other replica, or a load balancer sending it twice) runs the
operation once."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import aiohttp
from sqlalchemy import func, select

from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.payloads import reaction_event
from bot.storage.models import AuditEvent
from tests.conftest import StartService
from tests.operations.conftest import APPROVERS, CHANNEL, Flow
from tests.support.databases import fresh_database


async def test_an_approval_delivered_to_both_replicas_executes_once(
    start_service: StartService, emulator: SlackEmulator, tmp_path: object
) -> None:
    async with fresh_database("postgres", tmp_path) as url:  # type: ignore[arg-type]
        first = await start_service(url)
        second = await start_service(url)
        emulator.bot_url = f"{first.url}/slack/events"
        flow = Flow(first, emulator)
        await flow.command("/deploy", "api v1.4.0 production")
        ts = flow.latest().ts
        await flow.react(ts, APPROVERS[0])

        # The quorum-reaching reaction, signed once, delivered to both replicas at once.
        body = json.dumps(
            reaction_event(
                user=APPROVERS[1],
                reaction="white_check_mark",
                channel=CHANNEL,
                ts=ts,
                item_user=None,
                removed=False,
                event_id="Ev0TWOREPLICAS",
                event_ts=f"{time.time():.6f}",
                event_time=int(time.time()),
            )
        ).encode()
        headers = {**emulator.sign(body), "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as http:

            async def deliver(bot_url: str) -> int:
                async with http.post(f"{bot_url}/slack/events", data=body, headers=headers) as r:
                    return r.status

            statuses = await asyncio.gather(deliver(first.url), deliver(second.url))
        # One takes it; the other sees the signature already accepted and refuses the copy.
        assert sorted(statuses) == [200, 401]
        for _ in range(3):
            for replica in (first, second):
                await replica.service.operations.settle()
                await replica.settle()

        assert "Succeeded" in flow.header(ts)
        deploys = [e for e in (await flow.dryrun_state())["history"] if "deploy" in e]
        assert deploys == [{"deploy": "green", "version": "v1.4.0"}]
        async with first.service.sessions() as session:
            started = await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "operation.started")
            )
        assert started == 1
        assert len([t for t in flow.thread(ts) if t.startswith("🔄 Running")]) == 1
        await first.stop()
        await second.stop()


async def test_a_rollback_through_one_replica_cancels_the_bake_the_other_replica_runs(
    start_service: StartService, emulator: SlackEmulator, tmp_path: object
) -> None:
    async with fresh_database("postgres", tmp_path) as url:  # type: ignore[arg-type]
        first = await start_service(url)
        second = await start_service(url)

        async def settle() -> None:
            for _ in range(3):
                for replica in (first, second):
                    await replica.service.operations.settle()
                    await replica.settle()

        emulator.bot_url = f"{first.url}/slack/events"
        on_first = Flow(first, emulator)
        await on_first.request_and_approve("/deploy", "api v1.4.0 production")
        shift = await on_first.request_and_approve("/shift", "10 api production")
        assert "Running" in on_first.header(shift)  # baking, watched by the first replica

        emulator.bot_url = f"{second.url}/slack/events"
        on_second = Flow(second, emulator)
        await on_second.command("/rollback", "api production")
        rollback = on_second.latest().ts
        assert "Preempts" in on_second.text(rollback)
        for approver in APPROVERS:
            await emulator.send_reaction(
                user=approver, reaction="white_check_mark", channel=CHANNEL, ts=rollback
            )
            await settle()

        assert "Succeeded" in on_second.header(rollback), on_second.text(rollback)
        assert "Failed" in on_first.header(shift)
        assert any("Superseded by rollback" in t for t in on_first.thread(shift))
        assert (await on_first.dryrun_state())["weights"] == {"blue": 100, "green": 0}

        # The first replica's sweep at the end of the bake finds nothing left to finish.
        first.clock.advance(timedelta(minutes=6))
        await first.service.operations.sweep()
        await settle()
        assert "Failed" in on_first.header(shift)
        assert not any("Succeeded" in t for t in on_first.thread(shift))
        async with first.service.sessions() as session:
            finished = await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "operation.finished")
            )
            superseded = await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "operation.superseded")
            )
        assert (finished, superseded) == (2, 1)  # the deploy and the rollback; the shift superseded
        await first.stop()
        await second.stop()

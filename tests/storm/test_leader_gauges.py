"""`chatops_storms_open` after the processor lock moves: the former holder reports 0.

Two services share one PostgreSQL database, as two replicas do, each running its
delivery processor's loop. Only the lock holder counts open storms; the dashboard reads
max() across replicas, so a replica that lost the lock must not keep its last count.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.alerts.processor import PROCESSOR_LOCK_ID
from bot.storage.models import AlertStorm
from tests.conftest import RunningService, StartService
from tests.escalation.test_leader_gauges import kill_lock_connection
from tests.storm.conftest import wait_until

# Long enough that a holder's loop only turns when the test wakes it.
IDLE = 3600.0
# Bounds for waiting on a loop's turn; the standby retries every LEADER_RETRY (0.5 s).
WAIT = 10.0


def storms_open(replica: RunningService) -> float | None:
    return replica.service.metrics.registry.get_sample_value("chatops_storms_open")


async def open_storms(replica: RunningService, channels: list[str]) -> None:
    now = replica.clock.now()  # folding now: far from calm, nothing closes them
    async with replica.service.sessions.begin() as session:
        session.add_all(
            AlertStorm(channel=channel, state="open", opened_at=now, last_fold_at=now)
            for channel in channels
        )


@contextlib.asynccontextmanager
async def processing(replica: RunningService) -> AsyncIterator[None]:
    task = asyncio.create_task(replica.service.processor.run(poll_interval=IDLE))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_former_processor_reports_no_storms_and_the_new_one_the_databases_count(
    pg_url: str, start_service: StartService
) -> None:
    a = await start_service(pg_url)
    b = await start_service(pg_url)
    await open_storms(a, ["CSTORM01", "CSTORM02"])

    async with processing(a):
        await wait_until(lambda: storms_open(a) == 2, WAIT, "the holder to count the storms")
        async with processing(b):
            await kill_lock_connection(a.service.engine, PROCESSOR_LOCK_ID)
            await wait_until(lambda: storms_open(b) == 2, WAIT, "b to take over and count")
            a.service.processor.wake()  # a's next turn finds the lock taken
            await wait_until(lambda: storms_open(a) == 0, WAIT, "the former holder to say 0")
            assert storms_open(b) == 2

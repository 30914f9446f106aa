"""The outbox loop each replica runs: recover, claim, send, record, then wait.

Every channel with rows claimed gets a sending task of its own, which sends that
channel's rows in order and records their outcomes; the loop does not wait for it. The
next pass claims for every other channel at once, as far as its pace allows, so a call
Slack is slow to answer (or never answers) holds only its own channel: a P0 for another
channel is claimed and sent while it hangs. A channel with a call in flight is skipped
until its task ends, which keeps its calls in order and wakes the loop.

The loop waits until something is enqueued (`wake`), a sending task ends, the next row
is due, a paced channel has room again, or `poll_interval` has passed (rows enqueued by
other replicas). Recovering a stopped replica's rows means looking them up in Slack, so
it runs as a task of its own too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.metrics import Metrics
from bot.replicas.claims import Replica
from bot.slack.outbox.claiming import Claimer, Prepare
from bot.slack.outbox.parents import Parents
from bot.slack.outbox.recording import Outcome, Recorder
from bot.slack.outbox.recovery import RECOVER_EVERY, Recovery
from bot.slack.outbox.sending import Sender
from bot.slack.outbox.shared_pace import SharedPace
from bot.storage.models import OutboxEntry

log = logging.getLogger(__name__)

# Channels sent to at the same time by one replica; a P0/P1 gets a sender even when all
# are busy (claiming.py), so hung calls in this many channels never hold a page.
CONCURRENCY = 32


class Outbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: AsyncWebClient,
        clock: Clock,
        metrics: Metrics,
        *,
        batch: int = 200,
        prepare: Prepare | None = None,
    ) -> None:
        self._clock = clock
        self._wake = asyncio.Event()
        self.replica = Replica(sessions.kw["bind"])
        pace = SharedPace(sessions)
        self._claimer = Claimer(sessions, clock, pace, self.replica, batch, prepare)
        self._sender = Sender(sessions, client, clock, metrics, pace)
        self._recorder = Recorder(sessions, clock, metrics)
        self._recovery = Recovery(sessions, client, metrics, self.replica, self._recorder)
        self._next_at: float | None = None
        self._recovered_at = -math.inf
        self._sending: dict[str, asyncio.Task[list[Outcome]]] = {}  # channel -> its task
        self._recovering: asyncio.Task[int] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self, poll_interval: float = 1.0) -> None:
        try:
            while True:
                self._wake.clear()
                try:
                    started = await self._pass(paced=True, recover_in_background=True)
                except Exception:
                    log.exception("outbox pass failed; retrying shortly")
                    started = []
                if started:
                    continue
                timeout = poll_interval
                if self._next_at is not None:
                    timeout = min(timeout, max(0.01, self._next_at - self._now()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        finally:
            await self._stop_tasks()

    async def drain(self, max_passes: int = 1000, *, paced: bool = True) -> None:
        """Send everything that is due now (tests, shutdown).

        Called with the `run` loop stopped, so this replica's own rows still `sending`
        were cut off mid-call: they are looked up like a dead replica's first. `paced=False`
        is for tests on a clock that only moves when told to, where a paced channel would
        wait forever (a row Slack answered 429 still waits out its `Retry-After`). Paced,
        it waits for the channel's next slot when that is due within two seconds.
        """
        await self.recover(include_own=True)
        for _ in range(max_passes):
            if await self.drain_once(paced=paced):
                continue
            if not paced or self._next_at is None or self._next_at > self._now() + 2.0:
                return
            await asyncio.sleep(max(0.01, self._next_at - self._now()))  # a paced post

    async def close(self) -> None:
        await self._stop_tasks()
        await self.replica.close()

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def drain_once(self, *, paced: bool = True) -> int:
        """One pass over due rows, waiting for their calls; how many rows changed state."""
        started = await self._pass(paced=paced, recover_in_background=False)
        results = await asyncio.gather(*started)
        return sum(1 for group in results for o in group if o.state != "released")

    async def _pass(
        self, *, paced: bool, recover_in_background: bool
    ) -> list[asyncio.Task[list[Outcome]]]:
        """Claim for the channels with no call in flight and start their senders."""
        await self.replica.ensure()
        if time.monotonic() - self._recovered_at >= RECOVER_EVERY:
            self._recovered_at = time.monotonic()
            if not recover_in_background:
                await self.recover()
            elif self._recovering is None or self._recovering.done():
                self._recovering = asyncio.create_task(self.recover(), name="outbox-recovery")
        free = CONCURRENCY - len(self._sending)
        claim = await self._claimer.claim(paced=paced, busy=set(self._sending), channels=free)
        self._next_at = claim.next_at
        if not claim.rows:
            if not self._sending:
                await self._recorder.update_gauges()  # idle: exact figures
            return []
        by_channel: dict[str, list[OutboxEntry]] = {}
        for row in claim.rows:  # in priority order: the most urgent channel starts first
            by_channel.setdefault(row.channel, []).append(row)
        started = []
        for channel, rows in by_channel.items():
            task = asyncio.create_task(
                self._send_channel(channel, rows, claim.parents), name=f"outbox-{channel}"
            )
            self._sending[channel] = task
            started.append(task)
        return started

    async def _send_channel(
        self, channel: str, rows: list[OutboxEntry], parents: Parents
    ) -> list[Outcome]:
        """Send one channel's claimed rows and record what became of them."""
        try:
            outcomes = await self._sender.send_channel(rows, parents)
            await self._recorder.record(outcomes, owner=self.replica.id)
            await self._recorder.gauges()
            return outcomes
        except Exception:
            # The rows stay claimed by this replica; a restart's recovery looks them up.
            log.exception("sending to %s failed", channel)
            return []
        finally:
            if self._sending.get(channel) is asyncio.current_task():
                del self._sending[channel]
            self._wake.set()

    async def _stop_tasks(self) -> None:
        """Cut off calls in flight: their rows stay `sending`, and `drain`'s recovery (or a
        restart's) looks them up in Slack before sending them again."""
        tasks: list[asyncio.Task[Any]] = [*self._sending.values()]
        if self._recovering is not None:
            tasks.append(self._recovering)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._sending.clear()
        self._recovering = None

    async def recover(self, *, include_own: bool = False) -> int:
        """Take back rows claimed by replicas that are gone; returns how many."""
        return await self._recovery.recover(include_own=include_own)

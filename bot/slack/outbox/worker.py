"""The outbox loop each replica runs: recover, claim, send, record, then wait.

It waits until something is enqueued (`wake`), the next row is due, a paced channel has
room again, or `poll_interval` has passed (rows enqueued by other replicas).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.metrics import Metrics
from bot.replicas.claims import Replica
from bot.slack.outbox.claiming import Claimer, Prepare
from bot.slack.outbox.recording import Recorder
from bot.slack.outbox.recovery import RECOVER_EVERY, Recovery
from bot.slack.outbox.sending import Sender
from bot.slack.outbox.shared_pace import SharedPace

log = logging.getLogger(__name__)


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

    def wake(self) -> None:
        self._wake.set()

    async def run(self, poll_interval: float = 1.0) -> None:
        while True:
            self._wake.clear()
            try:
                sent = await self.drain_once()
            except Exception:
                log.exception("outbox pass failed; retrying shortly")
                sent = 0
            if sent:
                continue
            timeout = poll_interval
            if self._next_at is not None:
                timeout = min(timeout, max(0.01, self._next_at - self._now()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except TimeoutError:
                pass

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
        await self.replica.close()

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def drain_once(self, *, paced: bool = True) -> int:
        """One pass over due rows; returns how many rows changed state."""
        await self.replica.ensure()
        if time.monotonic() - self._recovered_at >= RECOVER_EVERY:
            self._recovered_at = time.monotonic()
            await self.recover()
        claim = await self._claimer.claim(paced=paced)
        self._next_at = claim.next_at
        if not claim.rows:
            await self._recorder.update_gauges()  # idle: exact figures; busy: once a second
            return 0
        outcomes = await self._sender.send_all(claim.rows, claim.parents)
        await self._recorder.record(outcomes, owner=self.replica.id)
        await self._recorder.gauges()
        return sum(1 for o in outcomes if o.state != "released")

    async def recover(self, *, include_own: bool = False) -> int:
        """Take back rows claimed by replicas that are gone; returns how many."""
        return await self._recovery.recover(include_own=include_own)

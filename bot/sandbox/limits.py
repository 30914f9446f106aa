"""Rate limiting and fault injection for the emulated Web API.

The outbox must survive Slack saying "not now": 429 with Retry-After, 5xx, an outage, or
an answer that comes late or never (`Holds`). Real Slack only does that under load, so
the emulator does it on demand.

Rate limit choice: Slack documents about one `chat.postMessage` per second per
channel, with short bursts tolerated. We model that as a token bucket per channel
holding 3 tokens and refilling one per second: three quick posts pass, the fourth
within the same second gets 429 with `Retry-After: 1`. The bucket reads the injected
clock, so tests advance time instead of sleeping.

Methods of a rate tier are limited per app per workspace, whatever the channel:
`chat.update` is Tier 3, "50+ per minute" with "sporadic bursts welcome". Slack gives
no burst size; we model one bucket of 20 refilling 50 a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

BURST = 3.0
REFILL_PER_SECOND = 1.0
TIER3_METHODS = ("chat.update",)
TIER3_BURST = 20.0
TIER3_PER_SECOND = 50 / 60


class TokenBuckets:
    """One token bucket per key (the channel id)."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        capacity: float = BURST,
        refill_per_second: float = REFILL_PER_SECOND,
    ) -> None:
        self._clock = clock
        self._capacity = capacity
        self._rate = refill_per_second
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> int:
        """Consume a token; 0 when allowed, else the whole seconds to wait (>= 1)."""
        now = self._clock()
        tokens, last = self._buckets.get(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + max(0.0, now - last) * self._rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self._rate))

    def reset(self) -> None:
        self._buckets.clear()


@dataclass
class Fault:
    status: int
    error: str
    retry_after: int | None
    extra: dict[str, object] = field(default_factory=dict)  # more of Slack's answer


def default_error(status: int) -> str:
    """The error word a failed call carries in its body."""
    if status == 429:
        return "ratelimited"
    if status == 503:
        return "service_unavailable"
    return "fatal_error"


class Faults:
    """Queued failures per Web API method, consumed one call at a time."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}

    def add(
        self,
        method: str,
        *,
        status: int,
        times: int,
        retry_after: int | None,
        error: str | None,
        extra: dict[str, object] | None = None,
    ) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        fault = Fault(status, error or default_error(status), retry_after, dict(extra or {}))
        self._queues.setdefault(method, deque()).extend([fault] * times)

    def take(self, method: str) -> Fault | None:
        queue = self._queues.get(method)
        return queue.popleft() if queue else None

    def clear(self) -> None:
        self._queues.clear()


@dataclass
class Hold:
    """Calls held back: Slack slow to answer, or not answering, as in its incidents."""

    ends: float  # loop time
    method: str | None
    channel: str | None
    delay: float | None  # each call waits this long; None: until the window ends
    released: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: int = 0  # calls held now

    def matches(self, method: str, channel: str | None, now: float) -> bool:
        if now >= self.ends or self.released.is_set():
            return False
        return (self.method is None or self.method == method) and (
            self.channel is None or self.channel == channel
        )

    async def wait(self) -> None:
        self.waiting += 1
        try:
            await self._wait()
        finally:
            self.waiting -= 1

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.delay if self.delay is not None else max(0.0, self.ends - loop.time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.released.wait(), timeout=timeout)


class Holds:
    """Windows in which matching Web API calls are held before they are handled. A held
    call is handled (and its message posted) when its wait ends, even if the client gave
    up meanwhile: what a client that timed out must expect of Slack."""

    def __init__(self) -> None:
        self._holds: list[Hold] = []
        self._all: list[Hold] = []  # ended ones too, for `held`

    @property
    def held(self) -> int:
        """Calls held at this moment."""
        return sum(h.waiting for h in self._all)

    def add(
        self,
        seconds: float,
        *,
        method: str | None = None,
        channel: str | None = None,
        delay: float | None = None,
    ) -> None:
        ends = asyncio.get_running_loop().time() + seconds
        hold = Hold(ends, method, channel, delay)
        self._holds.append(hold)
        self._all = [h for h in self._all if h.waiting] + [hold]

    def find(self, method: str, channel: str | None) -> Hold | None:
        now = asyncio.get_running_loop().time()
        self._holds = [h for h in self._holds if now < h.ends and not h.released.is_set()]
        return next((h for h in self._holds if h.matches(method, channel, now)), None)

    def release(self) -> None:
        """End every window now: the calls held are handled at once."""
        for hold in self._holds:
            hold.released.set()
        self._holds.clear()

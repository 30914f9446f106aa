"""Client-side pacing for the Events API: about 120 events per minute per routing key.

PagerDuty documents the limit as "approximately 120 calls/minute per integration key,
calculated over a 60 second window looking back from the current time", and answers 429
(dropping the event) past it. An alert storm can easily exceed that, so we pace on our
side instead of collecting 429s: a sliding-window log per key mirrors PagerDuty's own
look-back window exactly, which a token bucket would only approximate.

Time is injected (`clock` returns monotonic seconds, `sleep` waits) so that tests drive
the limiter with a fake clock and never really sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

EVENTS_PER_MINUTE = 120
WINDOW_SECONDS = 60.0

Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    """At most `limit` acquisitions per key in any `window` seconds.

    Keys are routing keys, which are secrets: the limiter keeps them only as dict keys and
    never prints them.
    """

    def __init__(
        self,
        limit: int = EVENTS_PER_MINUTE,
        window: float = WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self._limit = limit
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        # Spelled out so that the default repr can never grow to include the keys.
        return f"RateLimiter(limit={self._limit}, window={self._window})"

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def window(self) -> float:
        return self._window

    def would_wait(self, key: str) -> float:
        """Seconds until an event for `key` may be sent (0.0 when it may go now)."""
        sent = self._prune(key, self._clock())
        if sent is None or len(sent) < self._limit:
            return 0.0
        # The slot frees when the oldest send within the window leaves it.
        return max(0.0, sent[0] + self._window - self._clock())

    async def acquire(self, key: str) -> None:
        """Wait until an event for `key` may be sent, then count it as sent."""
        # One waiter per key at a time keeps the order of callers (asyncio.Lock is FIFO)
        # and stops a crowd of waiters from all waking for the same freed slot.
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            while (wait := self.would_wait(key)) > 0:
                await self._sleep(wait)
            self._sent.setdefault(key, deque()).append(self._clock())

    def _prune(self, key: str, now: float) -> deque[float] | None:
        sent = self._sent.get(key)
        if sent is None:
            return None
        horizon = now - self._window
        while sent and sent[0] <= horizon:
            sent.popleft()
        return sent

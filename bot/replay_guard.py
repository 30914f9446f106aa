"""Refusing replayed Slack requests.

Slack's signature covers a timestamp, and bolt refuses requests older than five minutes;
within those five minutes a captured request could be sent again. Slack never sends the
same signature twice (its retries are signed anew), so a signature seen before is a replay.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

WINDOW_SECONDS = 5 * 60


class ReplayGuard:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, limit: int = 100_000
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, signature: str) -> bool:
        """True the first time a signature is seen within the window."""
        now = self._clock()
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at <= WINDOW_SECONDS and len(self._seen) < self._limit:
                break
            self._seen.pop(oldest)
        if signature in self._seen:
            return False
        self._seen[signature] = now
        return True

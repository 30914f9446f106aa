"""What the Slack emulator lets tests and the sandbox read back.

The bot's effects are asserted on what "Slack" now holds, not on mocks: the Web API
calls it made, the messages of a channel and their threads, ephemerals, response_url
posts, and `wait_for`, which polls for an outcome the bot produces a moment after the
request that caused it. `on_event` is the same idea pushed out: the sandbox prints every
message as it appears.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from bot.sandbox.store import Call, Message, ResponsePost, Store

log = logging.getLogger(__name__)

T = TypeVar("T")
EventHook = Callable[[str, Message], None]


class Inspection:
    """Mixed into `SlackEmulator`, which owns the workspace's `store`."""

    store: Store
    # Called with ("post" | "update" | "ephemeral" | "response", message) as Slack shows it.
    on_event: EventHook | None

    def calls(self, method: str | None = None) -> list[Call]:
        return [c for c in self.store.calls if method is None or c.method == method]

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages of a channel in posting order (replies excluded)."""
        return self.store.top_level(channel)

    def replies(self, channel: str, thread_ts: str) -> list[Message]:
        return self.store.replies(channel, thread_ts)

    def message(self, channel: str, ts: str) -> Message | None:
        return self.store.find(channel, ts)

    @property
    def ephemerals(self) -> list[Message]:
        return list(self.store.ephemerals)

    @property
    def responses(self) -> list[ResponsePost]:
        return list(self.store.responses)

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        # A timeout argument (not asyncio.timeout) so the failure names the predicate.
        timeout: float = 5.0,
        *,
        interval: float = 0.01,
    ) -> T:
        """Poll until `predicate()` is truthy and return its value.

        The bot does slow work after acknowledging, so what it posts lands a moment
        after the request that caused it; tests wait for the outcome, not for time.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if loop.time() >= deadline:
                raise AssertionError(self._timeout_report(predicate, timeout, value))
            await asyncio.sleep(interval)

    def _timeout_report(
        self, predicate: Callable[[], object], timeout: float, value: object
    ) -> str:
        code = getattr(predicate, "__code__", None)
        where = f" ({code.co_filename}:{code.co_firstlineno})" if code is not None else ""
        name = getattr(predicate, "__qualname__", repr(predicate))
        recent = [
            f"  {c.method} -> {c.status} {c.response.get('error') or 'ok'}"
            for c in self.store.calls[-8:]
        ]
        counts = {ch: len(ms) for ch, ms in self.store.channel_messages.items()}
        return "\n".join(
            [
                f"wait_for timed out after {timeout}s: {name}{where} last returned {value!r}",
                f"messages per channel: {counts}; ephemerals: {len(self.store.ephemerals)}; "
                f"responses: {len(self.store.responses)}",
                "last Web API calls:" if recent else "no Web API calls were made",
                *recent,
            ]
        )

    def _notify(self, kind: str, message: Message) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(kind, message)
        except Exception:
            # A broken printer must not turn into a Slack error seen by the bot.
            log.exception("on_event hook failed for %s", kind)

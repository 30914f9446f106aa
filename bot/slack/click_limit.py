"""The per-user limit on button clicks, applied before any listener runs.

Every click does work (reads Alertmanager, pages, posts, writes the audit trail), and
a click is one signed request anyone in the workspace can repeat as fast as they like.
A Bolt middleware counts each person's `block_actions` in the database (shared by the
replicas, like the command limit) and past the limit answers Slack without running the
listener, telling the clicker only them to slow down.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.response import BoltResponse

from bot.clock import Clock
from bot.slack.answers import SlackAnswers
from bot.storage.user_limits import SharedUserLimit
from commands.render import clicks_limited


class ClickLimit:
    def __init__(self, limiter: SharedUserLimit, answers: SlackAnswers, clock: Clock) -> None:
        self._limiter = limiter
        self._answers = answers
        self._clock = clock

    async def middleware(
        self, body: dict[str, Any], next_: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        if body.get("type") != "block_actions":
            await next_()
            return None
        user = str((body.get("user") or {}).get("id", ""))
        wait = await self._limiter.check(user, self._clock.now())
        if wait is None:
            await next_()
            return None
        await self._answers.ephemeral(body, clicks_limited(self._limiter.limit, wait))
        self._answers.wake_outbox()
        return BoltResponse(status=200, body="")  # the ack; no listener runs

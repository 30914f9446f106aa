"""What a listener tells the person behind a Slack request, and the refusals it audits.

Every feature's listeners answer the same way (an ephemeral line through the outbox; a
refused click audited with the message it came from), so they share this one small
object instead of each reaching into the whole service for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit import trail
from bot.clock import Clock
from bot.slack.clicks import clicked_at
from bot.slack.outbox_queue import enqueue

# Bolt's `ack` as the features' listeners see it: they are plain coroutines, attached to
# the bolt app in bot/slack/app.py, so only the Slack folder knows bolt.
Ack = Callable[..., Awaitable[object]]


class SlackAnswers:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        wake_outbox: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        # Listeners call it after their use case queued Slack calls, so they go out now.
        self.wake_outbox = wake_outbox

    async def refuse(
        self, body: dict[str, Any], text: str, *, action: str, subject: str, reason: str
    ) -> None:
        """Audit a refused button click (with the message it came from) and tell the clicker."""
        async with self._sessions.begin() as session:
            trail.record(
                session,
                at=self._clock.now(),
                actor=str((body.get("user") or {}).get("id", "")),
                action=action,
                subject=subject,
                reason=reason,
                clicked=":".join(clicked_at(body)),
                via="slack",
            )
        await self.ephemeral(body, text)

    async def ephemeral(
        self, body: dict[str, Any], text: str, *, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """Tell the person behind a Slack request something only they see (`blocks`, when
        given, are what Slack shows; `text` is the notification's)."""
        channel = str((body.get("channel") or {}).get("id") or body.get("channel_id") or "")
        user = str((body.get("user") or {}).get("id") or body.get("user_id") or "")
        if not channel or not user:
            return
        async with self._sessions.begin() as session:
            await enqueue(
                session,
                op="ephemeral",
                channel=channel,
                payload={"text": text, "user": user, **({"blocks": blocks} if blocks else {})},
                now=self._clock.now(),
                priority=0,
            )
        self.wake_outbox()

"""Recording: what became of every claimed row, and the outbox gauges.

All the outcomes of a pass are written in one transaction, each only while the row is
still claimed by whoever sent it: a row another replica has taken back meanwhile keeps
that replica's record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Table, Update, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.metrics import Metrics
from bot.slack.outbox.calls import is_create
from bot.storage.models import OutboxEntry, SlackMessage, UtcDateTime


@dataclass
class Outcome:
    row: OutboxEntry
    state: str  # sent | pending | failed | released
    error: str | None = None
    not_before: datetime | None = None
    attempt: bool = False
    result: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] | None = None  # Slack's whole refusal (refusals.py)
    unconfirmed: bool = False  # a post's call broke off: look it up before sending again
    note: str | None = None  # said in the message's thread once it is sent


class Recorder:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, metrics: Metrics
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._metrics = metrics
        self._gauges_at = -math.inf

    async def record(self, outcomes: Sequence[Outcome], owner: str) -> None:
        """Every outcome in one transaction, each only while still claimed by `owner`."""
        if not outcomes:
            return
        now = self._clock.now()
        params = [_row_values(o, now) for o in outcomes]
        messages = [m for m in (_posted_message(o, now) for o in outcomes) if m is not None]
        async with self._sessions.begin() as session:
            await session.connection()
            await session.execute(_release_claim(owner), params)
            for outcome in outcomes:
                if outcome.note and outcome.row.message_key:
                    session.add(_thread_note(outcome, now))
            if messages:
                insert = (
                    postgresql.insert
                    if session.get_bind().dialect.name == "postgresql"
                    else sqlite.insert
                )
                await session.execute(
                    insert(SlackMessage).on_conflict_do_nothing(index_elements=["key"]),
                    messages,
                )

    async def gauges(self) -> None:
        """The gauges, at most once a second while the outbox is busy."""
        if time.monotonic() - self._gauges_at < 1.0:
            return
        self._gauges_at = time.monotonic()
        await self.update_gauges()

    async def update_gauges(self) -> None:
        async with self._sessions() as session:
            counts = dict(
                (
                    await session.execute(
                        select(OutboxEntry.state, func.count())
                        .where(OutboxEntry.state.in_(("pending", "sending", "failed")))
                        .group_by(OutboxEntry.state)
                    )
                ).all()
            )
            oldest = await session.scalar(
                select(func.min(OutboxEntry.created_at)).where(
                    OutboxEntry.state.in_(("pending", "sending"))
                )
            )
        self._metrics.outbox_depth.set(counts.get("pending", 0) + counts.get("sending", 0))
        self._metrics.outbox_failed.set(counts.get("failed", 0))
        age = (self._clock.now() - oldest).total_seconds() if oldest else 0.0
        self._metrics.outbox_oldest_seconds.set(max(age, 0.0))


def _row_values(outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The parameters of `_release_claim` for one outcome."""
    sent = outcome.state == "sent"
    return {
        "b_id": outcome.row.id,
        "b_state": "pending" if outcome.state == "released" else outcome.state,
        "b_error": outcome.error,
        "b_inc": 1 if (outcome.attempt or sent) else 0,
        "b_not_before": outcome.not_before or outcome.row.not_before,
        "b_sent_at": now if sent else None,
        "b_detail": outcome.detail,
        "b_unconfirmed": _unconfirmed_since(outcome, now),
    }


def _unconfirmed_since(outcome: Outcome, now: datetime) -> datetime | None:
    """Since when the row's post may be in Slack unrecorded; None once that is settled."""
    if outcome.state in ("sent", "failed"):
        return None
    if outcome.unconfirmed:
        return outcome.row.unconfirmed_since or now
    return outcome.row.unconfirmed_since


def _thread_note(outcome: Outcome, now: datetime) -> OutboxEntry:
    """A reply in the thread of the message just sent (an image left out of it)."""
    row = outcome.row
    return OutboxEntry(
        op="reply",
        channel=row.channel,
        message_key=row.message_key,
        priority=row.priority,
        payload={"text": outcome.note},
        state="pending",
        attempts=0,
        not_before=now,
        created_at=now,
    )


def _posted_message(outcome: Outcome, now: datetime) -> dict[str, Any] | None:
    """Where a keyed post landed, for the updates and replies that refer to it."""
    row = outcome.row
    if outcome.state == "sent" and is_create(row) and row.message_key:
        # A channel made for a feature (calls.py): where it is, under the row's key.
        channel = str(outcome.result.get("channel") or "")
        return {"key": row.message_key, "channel": channel, "ts": "", "created_at": now}
    if outcome.state != "sent" or row.op != "post" or not row.message_key:
        return None
    if not outcome.result.get("ts"):
        return None
    return {
        "key": row.message_key,
        "channel": str(outcome.result.get("channel") or row.channel),
        "ts": str(outcome.result["ts"]),
        "created_at": now,
    }


def _release_claim(owner: str) -> Update:
    """One UPDATE for every outcome (executemany), applied only to rows `owner` still holds."""
    table = cast(Table, OutboxEntry.__table__)
    return (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.state == "sending",
            table.c.claimed_by == owner,
        )
        .values(
            state=bindparam("b_state"),
            # The last error stays after a success: a channel's recent 429s are what
            # lets storm mode start there (bot/slack/outbox_queue.channel_backlog).
            last_error=func.coalesce(bindparam("b_error"), table.c.last_error),
            attempts=table.c.attempts + bindparam("b_inc"),
            not_before=bindparam("b_not_before"),
            sent_at=bindparam("b_sent_at"),
            slack_error=func.coalesce(
                bindparam("b_detail", type_=JSON(none_as_null=True)), table.c.slack_error
            ),
            unconfirmed_since=bindparam("b_unconfirmed", type_=UtcDateTime()),
            claimed_by=None,
        )
    )

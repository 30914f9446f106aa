"""The messages that updates, replies and uploads into a thread refer to.

Such a row names its message by `message_key`; it can go out only once that message has
been posted (its channel and ts are in `slack_messages`), and never when its post failed
for good.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.slack.outbox.failures import Permanent, WaitingForParent
from bot.storage.models import OutboxEntry, SlackMessage

# message key -> (channel, ts) once posted; None when its post failed for good
Parents = dict[str, tuple[str, str] | None]


async def load_parents(session: AsyncSession, rows: Sequence[OutboxEntry]) -> Parents:
    """Where the messages these rows depend on live; None when their post failed for good."""
    # A post, and a conversations.create (calls.py), is the row that makes its key.
    keys = {r.message_key for r in rows if r.message_key and r.op != "post" and not _makes(r)}
    if not keys:
        return {}
    found: Parents = {
        m.key: (m.channel, m.ts)
        for m in (await session.scalars(select(SlackMessage).where(SlackMessage.key.in_(keys))))
    }
    missing = keys - found.keys()
    if missing:
        failed = await session.scalars(
            select(OutboxEntry.message_key).where(
                OutboxEntry.message_key.in_(missing),
                OutboxEntry.op == "post",
                OutboxEntry.state == "failed",
            )
        )
        for key in failed:
            if key is not None:
                found[key] = None
    return found


def _makes(row: OutboxEntry) -> bool:
    return row.op == "call" and row.payload.get("method") == "conversations.create"


def parent_of(row: OutboxEntry, parents: Parents) -> tuple[str, str]:
    """The channel and ts of the message `row` refers to."""
    key = row.message_key or ""
    if key not in parents:
        raise WaitingForParent()
    where = parents[key]
    if where is None:
        raise Permanent(f"the message {key} it belongs to could not be posted")
    return where

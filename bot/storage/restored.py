"""What a restored database must not do: send twice what the lost one had already sent.

A backup is a picture of the past. Every outbox row that was pending or in flight when it
was taken may have reached Slack afterwards, from the database that was lost. So after a
restore each such post is handed to crash recovery (bot/slack/outbox/recovery.py) as if a
replica had died holding it: recovery looks the post up in the channel by the metadata
that names its row, records it as sent when Slack has it, and sends it only when Slack
does not. The owner `restored` is never a live replica, on SQLite or PostgreSQL.

What recovery cannot look up is decided here: an ephemeral answer (Slack keeps no copy to
find) still pending after `STALE_ANSWER` is dropped, since a reply to a click half an hour
old answers nothing and a `response_url` is dead by then anyway. Updates rewrite a
message in full and are safe to send again. Escalation timers need nothing: a step that
fell due while the backup was old runs once and plans its next occurrence after now
(bot/escalation/engine.py's `next_after`), and pages carry the group's dedup_key, which
PagerDuty deduplicates against the incident the lost database may already have opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.audit.trail import SYSTEM, record
from bot.storage.engine import session_factory
from bot.storage.models import OutboxEntry

RESTORED_OWNER = "restored"  # no replica id ends in a lock number of 0 or none
STALE_ANSWER = timedelta(minutes=30)  # Slack's response_url lives 30 minutes
LOOKED_UP = ("post", "reply", "upload")


@dataclass(frozen=True)
class Reconciled:
    to_look_up: int
    answers_dropped: int
    updates_resent: int
    newest_row_at: datetime | None


async def reconcile_restored(engine: AsyncEngine, *, now: datetime, source: str) -> Reconciled:
    """Mark what the restored outbox holds so that nothing in it is sent twice; audited."""
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        unsent = OutboxEntry.state.in_(("pending", "sending"))
        newest = await session.scalar(select(func.max(OutboxEntry.created_at)))
        looked_up = await session.execute(
            update(OutboxEntry)
            .where(unsent, OutboxEntry.op.in_(LOOKED_UP))
            .values(
                state="sending",
                claimed_by=RESTORED_OWNER,
                # Recovery searches history from shortly before the claim: the row's own
                # creation, so a post sent long after the backup is still in the window.
                claimed_at=OutboxEntry.created_at,
                lookup_failures=0,
            )
        )
        dropped = await session.execute(
            update(OutboxEntry)
            .where(
                unsent,
                OutboxEntry.op == "ephemeral",
                OutboxEntry.created_at < now - STALE_ANSWER,
            )
            .values(
                state="failed",
                claimed_by=None,
                last_error="restored from a backup: an answer this old is not sent",
            )
        )
        others = await session.execute(
            update(OutboxEntry)
            # Rows left `sending` by the lost database's replicas go back to the queue
            # (the stale answers are `failed` by now, so not among them).
            .where(unsent, OutboxEntry.op.not_in(LOOKED_UP))
            .values(state="pending", claimed_by=None, claimed_at=None)
        )
        result = Reconciled(
            to_look_up=_count(looked_up),
            answers_dropped=_count(dropped),
            updates_resent=_count(others),
            newest_row_at=newest,
        )
        record(
            session,
            at=now,
            actor=SYSTEM,
            action="database.restored",
            subject="database",
            source=source,
            posts_to_look_up=result.to_look_up,
            answers_dropped=result.answers_dropped,
            calls_resent=result.updates_resent,
        )
    return result


def _count(result: object) -> int:
    """Rows an UPDATE matched (its CursorResult's rowcount, which the Result type hides)."""
    return int(getattr(result, "rowcount", 0) or 0)

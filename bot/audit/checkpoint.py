"""Pruning the audit log without losing what its hash chain proves.

Events are removed only from the start of the chain, and in the same transaction the
checkpoint is rewritten: the last removed event's id and hash, signed (HMAC-SHA256) with
CHATOPS_AUDIT_KEY. `verify` then starts from that hash instead of the genesis: an edit of
a kept event, a removed or inserted one, or an edited checkpoint (a forged starting hash
would need the key) still shows. Without the key nothing is pruned, so an unsigned gap
never exists.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit.chain import Break, verify
from bot.storage.models import AuditCheckpoint, AuditEvent

CHECKPOINT_ID = 1  # one row: where the kept chain begins now


def sign(key: str, checkpoint: AuditCheckpoint) -> str:
    canonical = json.dumps(
        {
            "last_removed_id": checkpoint.last_removed_id,
            "last_removed_hash": checkpoint.last_removed_hash,
            "removed": checkpoint.removed,
            "at": checkpoint.at.isoformat(),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hmac.new(key.encode(), canonical.encode(), hashlib.sha256).hexdigest()


async def prune_batch(
    sessions: async_sessionmaker[AsyncSession],
    *,
    before: datetime,
    batch: int,
    key: str,
    now: datetime,
) -> int:
    """Remove up to `batch` events from the start of the chain, all older than `before`,
    and move the signed checkpoint past them; returns how many went."""
    async with sessions.begin() as session:
        # The chain is removed as a prefix: up to the first event that is still kept.
        first_kept = await session.scalar(
            select(func.min(AuditEvent.id)).where(AuditEvent.at >= before)
        )
        query = select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id).limit(batch)
        if first_kept is not None:
            query = query.where(AuditEvent.id < first_kept)
        rows = (await session.execute(query)).all()
        if not rows:
            return 0
        last_id, last_hash = rows[-1]
        await session.execute(delete(AuditEvent).where(AuditEvent.id <= last_id))
        checkpoint = await session.get(AuditCheckpoint, CHECKPOINT_ID, with_for_update=True)
        if checkpoint is None:
            checkpoint = AuditCheckpoint(id=CHECKPOINT_ID, removed=0)
            session.add(checkpoint)
        checkpoint.at = now
        checkpoint.last_removed_id = int(last_id)
        checkpoint.last_removed_hash = str(last_hash)
        checkpoint.removed = int(checkpoint.removed or 0) + len(rows)
        checkpoint.signature = sign(key, checkpoint)
    return len(rows)


def verify_kept(
    events: Iterable[AuditEvent], checkpoint: AuditCheckpoint | None, key: str | None
) -> tuple[int, Break | None, str]:
    """Check the kept chain: from the genesis, or from a checkpoint whose signature holds.
    Returns how many events were checked, the first break, and where the chain begins."""
    if checkpoint is None:
        checked, broken = verify(events)
        return checked, broken, "from its first event"
    if not key:
        return 0, Break(0, "the log was pruned; set CHATOPS_AUDIT_KEY to check its checkpoint"), ""
    if not hmac.compare_digest(checkpoint.signature, sign(key, checkpoint)):
        return 0, Break(0, "the checkpoint's signature does not match (it was edited)"), ""
    kept = list(events)
    early = [e for e in kept if e.id <= checkpoint.last_removed_id]
    if early:
        return 0, Break(early[0].id, "an event before the checkpoint was put back"), ""
    checked, broken = verify(kept, start=checkpoint.last_removed_hash)
    where = (
        f"from event {kept[0].id if kept else checkpoint.last_removed_id + 1}; the "
        f"{checkpoint.removed} events up to {checkpoint.last_removed_id} were pruned behind "
        f"a signed checkpoint ({checkpoint.at:%Y-%m-%d %H:%M} UTC)"
    )
    return checked, broken, where

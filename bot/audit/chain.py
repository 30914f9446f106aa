"""A hash chain over the audit log, so that editing or deleting an event shows.

Every event's hash covers its own content and the hash of the event before it. Hashes are
set in a `before_flush` hook, so every `audit.record` call is chained without callers
doing anything; on PostgreSQL a transaction-scoped advisory lock makes writers take turns
between reading the last hash and inserting after it (SQLite has a single writer already).
`verify` walks the chain and names the first event that does not fit.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from bot.storage.models import AuditEvent

GENESIS = "0" * 64
AUDIT_LOCK_ID = 7_431_002_004  # not 002: that is the timer lock, held for hours
_order = itertools.count()


def digest(prev: str, at: datetime, actor: str, action: str, subject: str, details: Any) -> str:
    canonical = json.dumps(
        {
            "prev": prev,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def mark_order(audit_event: AuditEvent) -> None:
    """Remember the order events were recorded in; the flush chains them in that order."""
    audit_event.__dict__["_chain_order"] = next(_order)


@event.listens_for(Session, "before_flush")
def _chain_new_events(session: Session, _flush_context: Any, _instances: Any) -> None:
    new = [obj for obj in session.new if isinstance(obj, AuditEvent) and obj.hash is None]
    if not new:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": AUDIT_LOCK_ID})
    last = connection.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar()
    prev = last or GENESIS
    for item in sorted(new, key=lambda e: e.__dict__.get("_chain_order", 0)):
        item.prev_hash = prev
        item.hash = digest(prev, item.at, item.actor, item.action, item.subject, item.details)
        prev = item.hash


@dataclass(frozen=True)
class Break:
    event_id: int
    reason: str


def verify(events: Iterable[AuditEvent], *, start: str = GENESIS) -> tuple[int, Break | None]:
    """Check events in id order; returns how many were checked and the first break.
    `start`: the hash the first event follows (a pruning checkpoint's, bot/audit/checkpoint.py)."""
    prev = start
    count = 0
    for item in events:
        count += 1
        if item.prev_hash != prev:
            return count, Break(
                item.id,
                "does not follow the event before it (an event was removed, inserted or reordered)",
            )
        expected = digest(prev, item.at, item.actor, item.action, item.subject, item.details)
        if item.hash != expected:
            return count, Break(item.id, "its content does not match its hash (it was edited)")
        prev = item.hash
    return count, None

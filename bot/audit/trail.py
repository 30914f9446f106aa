"""Writing audit events: who did what to which subject, in the caller's transaction.

Events are chained by hash when they are flushed (bot/audit/chain.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.audit.chain import mark_order
from bot.storage.models import AuditEvent

SYSTEM = "system"


def record(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    **details: Any,
) -> AuditEvent:
    event = AuditEvent(at=at, actor=actor, action=action, subject=subject, details=details)
    mark_order(event)
    session.add(event)
    return event

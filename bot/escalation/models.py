"""Escalation steps: every pending step's due time is a row, so timers survive restarts.

The in-memory scheduler only wakes the engine; what is due, and whether it already ran,
is decided here. A step is claimed by moving it out of `pending` in the same transaction
that performs it, so two processes (or a restart) can never run it twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, BigId, UtcDateTime


class EscalationStep(Base):
    __tablename__ = "escalation_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # NULL for channel-level steps (the P3 digest).
    group_id: Mapped[int | None] = mapped_column(ForeignKey("alert_groups.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(2))  # the priority the step was planned for
    kind: Mapped[str] = mapped_column(String(16))  # page|renotify|remind|digest
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # pending -> done | skipped | cancelled | failed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_escalation_steps_due", "state", "due_at"),
        Index("ix_escalation_steps_group", "group_id", "state"),
    )

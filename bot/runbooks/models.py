"""Runbook progress per alert group: the checklist that was opened and each step's state.

Progress lives in the database, not in the Slack message, so that it survives restarts,
is the same for everyone, and a stale message can always be re-rendered from it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, BigId, UtcDateTime


class RunbookChecklist(Base):
    """The checklist opened in one alert group's thread (at most one per group)."""

    __tablename__ = "runbook_checklists"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_group_id: Mapped[int] = mapped_column(
        ForeignKey("alert_groups.id", ondelete="CASCADE"), unique=True
    )
    runbook_id: Mapped[str] = mapped_column(String(128))
    # The runbook version the posted buttons carry; a click with another one is stale.
    version: Mapped[str] = mapped_column(String(32))
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RunbookStepProgress(Base):
    """One step's state (pending|done|skipped|running|failed), who changed it and when."""

    __tablename__ = "runbook_step_progress"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    checklist_id: Mapped[int] = mapped_column(
        ForeignKey("runbook_checklists.id", ondelete="CASCADE")
    )
    step_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    user: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The last run's output or refusal, kept for the record (the thread shows it too).
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("checklist_id", "step_id", name="uq_runbook_step_progress_step"),
    )

"""One row per heartbeat: when it was last heard and when it becomes late.

Every replica records signals here; the timer holder alone turns a passed `due_at`
into "late". Both transitions are claimed by an UPDATE conditioned on the state, so a
late message or a "back" message is posted once however many replicas race.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, UtcDateTime


class Heartbeat(Base):
    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # When the bot first watched it: a heartbeat never heard is late counting from here.
    watched_since: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(8), default="ok")  # ok | late
    late_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_heartbeats_due", "state", "due_at"),)

"""Incident rows: the incident, and which alert groups belong to it.

An alert group belongs to at most one incident: `incident_groups.group_id` is unique, so
two clicks on Declare incident, two replicas, or a click racing the automatic declaration
make one incident, whichever commits first (bot/incidents/store.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, BigId, UtcDateTime


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(250))
    severity: Mapped[str] = mapped_column(String(2))  # P0|P1|P2
    # investigating -> identified -> mitigated -> resolved
    status: Mapped[str] = mapped_column(String(16), default="investigating")
    lead: Mapped[str] = mapped_column(String(32))  # the declarer until set
    declared_by: Mapped[str] = mapped_column(String(32))  # a user id, or "system"
    declared_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # When its first alert started firing (the declaration, for one declared by hand).
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    identified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    mitigated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    channel_name: Mapped[str] = mapped_column(String(80))
    # Set once conversations.create answered (the outbox records it under the key
    # "incident-channel:<id>"; bot/incidents/setup.py).
    channel_id: Mapped[str | None] = mapped_column(String(32))
    service: Mapped[str | None] = mapped_column(String(255))  # its alerts' service label
    last_update: Mapped[str | None] = mapped_column(Text)
    last_update_by: Mapped[str | None] = mapped_column(String(32))
    last_update_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The lead's next reminder when no update is posted by then (None when resolved).
    remind_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    archive_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolution: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_incidents_remind_at", "remind_at"),
        Index("ix_incidents_channel_id", "channel_id"),
    )


class IncidentGroup(Base):
    __tablename__ = "incident_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(
        ForeignKey("alert_groups.id", ondelete="CASCADE"), unique=True
    )
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_incident_groups_incident", "incident_id"),)

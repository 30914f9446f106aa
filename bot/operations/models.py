"""Tables for operations, per-target locks and the dryrun backend's platform.

Approval requests themselves (of operations and runbook steps) are in bot/approvals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, BigId, UtcDateTime


class OperationRow(Base):
    """One run of an approved plan: where it is, so a crash or a bake alert can be acted on.

    status: running | baking | bake_failed | succeeded | failed | rolled_back | interrupted
    | superseded. `step` is the 1-based index of the step started last (0 before the
    first). `superseded_by` names the rollback request that cancelled it (status
    `superseded`): a rollback preempts a running shift or its bake.
    """

    __tablename__ = "operations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(Integer, default=0)
    plan: Mapped[dict[str, Any]]
    bake_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    bake_alert: Mapped[str | None] = mapped_column(Text)
    superseded_by: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Migration 0012, bake analysis (bot/operations/analysis.py): when the next run of the
    # checks is due, how many ran and failed, why the bake failed, and when its chart was
    # posted (or given up on).
    analysis_next_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    analysis_runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    analysis_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    bake_failure: Mapped[str | None] = mapped_column(Text)
    chart_done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_operations_status", "status"),
        Index("ix_operations_target", "service", "environment", "id"),
    )


class OperationLock(Base):
    """At most one operation per service and environment: the primary key is the lock."""

    __tablename__ = "operation_locks"

    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    environment: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(32))
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DryRunTarget(Base):
    """The dryrun backend's platform: versions and weights per target, and what it was told."""

    __tablename__ = "dryrun_targets"

    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    environment: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

"""Tables for approval requests and seen Slack events.

A request is stored whole as the plain data its `to_dict()` returns; the few columns
beside it are what queries filter on (kind, status, expiry, target). `kind` says what the
request asks to run: `operation` (an `ApprovalRequest` with its plan) or `runbook_step`
(a runbook step's `StepApproval`, bot/runbooks/approvals.py), so one reaction flow serves
both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, UtcDateTime

OPERATION = "operation"
RUNBOOK_STEP = "runbook_step"


class ApprovalRequestRow(Base):
    """For a runbook step, `service` holds the runbook id and `environment` the step id."""

    __tablename__ = "approval_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=OPERATION, server_default=OPERATION)
    service: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_approval_requests_status_expires", "status", "expires_at"),)


class SlackEventReceipt(Base):
    """Slack event ids already applied: a retried delivery (X-Slack-Retry-Num) counts once."""

    __tablename__ = "slack_event_receipts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())

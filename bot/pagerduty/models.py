"""PagerDuty rows: the durable page queue, and the incidents PagerDuty told us about.

Routing keys are secrets: a page stores which route its key came from (`route_ref`),
never the key, and resolves it when sending.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, BigId, UtcDateTime


class PagerDutyPage(Base):
    """One Events API v2 event to deliver: trigger, acknowledge or resolve."""

    __tablename__ = "pagerduty_pages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # NULL for a page of no alert group (a late heartbeat: bot/heartbeats/).
    group_id: Mapped[int | None] = mapped_column(ForeignKey("alert_groups.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))  # trigger|acknowledge|resolve
    dedup_key: Mapped[str] = mapped_column(String(255))
    route_ref: Mapped[str] = mapped_column(String(32))  # "route:<index>" or "default"
    payload: Mapped[dict[str, Any]]
    # pending -> sending -> sent | failed; cancelled when acknowledged before it went out
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    announced: Mapped[bool] = mapped_column(default=False)  # delivery trouble said in thread
    # For triggers: the follow-up already queued (acknowledge|resolve), so none is sent twice.
    followed: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_pagerduty_pages_due", "state", "not_before"),
        Index("ix_pagerduty_pages_group", "group_id", "action"),
        Index("ix_pagerduty_pages_dedup", "dedup_key"),
    )


class PagerDutyIncident(Base):
    """A PagerDuty incident seen through webhooks; `group_id` when it is one of our pages."""

    __tablename__ = "pagerduty_incidents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(64), unique=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("alert_groups.id", ondelete="SET NULL"))
    number: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(1024), default="")
    status: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(8), default="high")
    service_id: Mapped[str] = mapped_column(String(64), default="")
    service_name: Mapped[str] = mapped_column(String(255), default="")
    html_url: Mapped[str] = mapped_column(String(1024), default="")
    assignees: Mapped[str] = mapped_column(String(1024), default="")
    # The escalation policy it is delegated to, and PagerDuty's priority ("P1"), if any.
    escalation_policy: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(1024))  # "Acknowledged in PagerDuty by ..."
    last_event: Mapped[str] = mapped_column(String(64), default="")
    # PagerDuty's `occurred_at` of the last incident event applied: an event that occurred
    # before it (delivered late, out of order, or replayed) is older news and not applied.
    changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PagerDutyChange(Base):
    """One change event to deliver (Events API v2 `change/enqueue`, migration 0023): a
    deploy, shift or rollback that ended, queued in the transaction that recorded its end.
    The routing key is read when it is sent, by `service`, never stored."""

    __tablename__ = "pagerduty_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    # pending -> sending -> sent | failed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_pagerduty_changes_due", "state", "not_before"),)


class PagerDutyEventReceipt(Base):
    """A v3 webhook event already applied, kept for as long as the incident it names.

    PagerDuty's signature carries no time, so a captured event verifies forever: its
    receipt must outlive any capture, not just PagerDuty's retries (unlike Slack's event
    receipts, which are dropped after a day). Incidents are kept, so their receipts are.
    """

    __tablename__ = "pagerduty_event_receipts"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), default="")
    occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_pagerduty_event_receipts_incident", "incident_id"),)

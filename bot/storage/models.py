"""The database schema: everything that must survive a restart.

The database is the source of truth: alert groups and their Slack message, every webhook
delivery accepted, every Slack call still to make (the outbox), and the audit trail.
JSON columns hold payload-shaped data that is read back whole, never queried by field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names so that Alembic downgrades and renames work on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database.

    SQLite has no timezone type and hands back naive values; comparing those with aware
    ones raises, so values are normalised to UTC on the way in and out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class WebhookDelivery(Base):
    """One accepted webhook body, stored before the 2xx so nothing answered is lost."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    body: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|failed
    outcome: Mapped[str | None] = mapped_column(String(32))  # new|updated|duplicate|empty
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    # Migration 0007: read at intake so that a P0 is processed before a storm's backlog.
    priority: Mapped[int | None] = mapped_column(Integer)
    # The group's key digest (migration 0008; alerts.alertmanager.group_key_digest).
    group_key: Mapped[str | None] = mapped_column(String(1024))
    # Migration 0011: a delivery whose processing failed is tried again from
    # `next_attempt_at` (None: due now) until `attempts` reaches the bound, then kept failed.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_webhook_deliveries_state_id", "state", "id"),
        Index("ix_webhook_deliveries_state_priority", "state", "priority", "id"),
        Index("ix_webhook_deliveries_state_retry", "state", "next_attempt_at"),
    )


class AlertGroup(Base):
    """One Alertmanager alert group (its groupKey): one Slack message, updated in place."""

    __tablename__ = "alert_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # A SHA-256 digest of the groupKey, which has no length limit (migration 0008);
    # `group_key_text` keeps the key as the sender wrote it.
    group_key: Mapped[str] = mapped_column(String(1024), unique=True)
    group_key_text: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(
        String(16), default="alertmanager", server_default="alertmanager"
    )  # or "grafana"
    receiver: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # firing|resolved
    priority: Mapped[str] = mapped_column(String(2))
    channel: Mapped[str] = mapped_column(String(32))
    group_labels: Mapped[dict[str, Any]]
    common_labels: Mapped[dict[str, Any]]
    common_annotations: Mapped[dict[str, Any]]
    external_url: Mapped[str] = mapped_column(String(1024), default="")
    digest: Mapped[str] = mapped_column(String(64))  # of the last notification's alert states
    first_firing_at: Mapped[datetime] = mapped_column(UtcDateTime())
    firing_since: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acked_by: Mapped[str | None] = mapped_column(String(32))
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Linked at intake (migration 0004); None when no runbook covers the group's alerts.
    runbook_id: Mapped[str | None] = mapped_column(String(128))
    # Folded into a storm summary instead of a message of its own (migration 0007).
    storm_id: Mapped[int | None] = mapped_column(BigId)
    # When a folded group was first named in Slack, by its summary or a reply in the
    # summary's thread (migration 0019, bot/alerts/storm_names.py).
    storm_named_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Alert(Base):
    """The latest known state of one alert (by fingerprint) within its group."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("alert_groups.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    alertname: Mapped[str] = mapped_column(String(255), default="")
    labels: Mapped[dict[str, Any]]
    annotations: Mapped[dict[str, Any]]
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    generator_url: Mapped[str] = mapped_column(String(2048), default="")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Grafana's links and values, and whether the start time was assumed (migration 0008).
    extras: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("group_id", "fingerprint", name="uq_alerts_group_fp"),)


class SlackMessage(Base):
    """Where a message the bot owns lives in Slack, by a stable key like "alert-group:42"."""

    __tablename__ = "slack_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OutboxEntry(Base):
    """A Slack Web API call still to make (or made, or failed for good).

    `message_key` ties posts, updates and thread replies to one SlackMessage: an update or
    reply waits until the post it depends on has a ts.
    """

    __tablename__ = "slack_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    op: Mapped[str] = mapped_column(String(16))  # post|update|reply|ephemeral|upload
    channel: Mapped[str] = mapped_column(String(32))
    message_key: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[int] = mapped_column(Integer, default=2)
    payload: Mapped[dict[str, Any]]
    # pending|sending|sent|failed, or folded: a post taken into a storm summary unsent
    # (bot/alerts/storm.py); "sending" is claimed by one replica (claimed_by).
    state: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Migration 0011: crash recovery could not look this row up in Slack
    # (bot/slack/outbox/recovery.py).
    lookup_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Migration 0016: Slack's refusal as it answered (error, errors, messages, warnings),
    # shown by `chatops slack failed`.
    slack_error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Migration 0016: a post whose call timed out or broke off after it was sent: Slack may
    # have posted it, so it is looked up before it is sent again (bot/slack/outbox/sending.py).
    unconfirmed_since: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_slack_outbox_due", "state", "priority", "id"),
        Index("ix_slack_outbox_key", "message_key", "state"),
        Index("ix_slack_outbox_channel_state", "channel", "state"),
    )


class OutboxFile(Base):
    """The bytes of a file an outbox row uploads (op `upload`, migration 0012): kept apart
    so that claiming rows does not read images."""

    __tablename__ = "outbox_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AlertStorm(Base):
    """A channel in storm mode: new low-priority groups are folded into one summary."""

    __tablename__ = "alert_storms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="open")  # open|closed
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_fold_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_alert_storms_channel_state", "channel", "state"),)


class AuditEvent(Base):
    """Append-only record of who did what; never updated or deleted by the bot."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))  # a Slack user id, or "system"
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any]]
    # Tamper evidence: each event's hash covers its content and the previous event's hash.
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_log_subject", "subject", "id"),)


class SlackRequestReceipt(Base):
    """A Slack request signature (or event id) already accepted, kept until Slack's five
    minute window for it ends: a copy sent to another replica, or after a restart, is a
    replay. Keys are prefixed by kind ("sig:", "event:")."""

    __tablename__ = "slack_request_receipts"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_slack_request_receipts_expires_at", "expires_at"),)


class SlackChannelPace(Base):
    """One channel's token bucket for posts (bot/slack/outbox/pacing.py), shared by the
    replicas (migration 0014): Slack's limit is per channel, whoever posts, so replicas
    each pacing on their own would post up to twice its rate together. Times are epoch
    seconds, the unit the bucket's arithmetic is in."""

    __tablename__ = "slack_channel_pace"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    tokens: Mapped[float] = mapped_column(Double())
    tokens_at: Mapped[float] = mapped_column(Double())
    # Slack's last Retry-After for this channel ends then (0: none).
    blocked_until: Mapped[float] = mapped_column(Double(), default=0.0, server_default="0")


class SlackResponseUrl(Base):
    """A response_url Slack handed the bot with a slash command or a click (migration 0020),
    and how often it has been used: Slack takes five posts within 30 minutes to one, and
    answers through it reach the person in any conversation (bot/slack/answers.py)."""

    __tablename__ = "slack_response_urls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_slack_response_urls_received_at", "received_at"),)


class UserRequestWindow(Base):
    """How many slash commands (or button clicks) one person sent in the current window
    (bot/storage/user_limits.py), shared by the replicas and kept across restarts, so
    the per-user limit is the limit whichever replica Slack picks (migration 0015)."""

    __tablename__ = "user_request_windows"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)  # "command:U123"
    window_start: Mapped[datetime] = mapped_column(UtcDateTime())
    count: Mapped[int] = mapped_column(Integer)


class AuditCheckpoint(Base):
    """Where the kept audit chain begins once old events are pruned (retention.audit, migration
    0024): the last removed event's id and hash, signed with CHATOPS_AUDIT_KEY, so that
    `chatops audit verify` checks the kept events from that hash and an edit of the
    checkpoint itself shows. One row, rewritten by each pruning batch."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_removed_id: Mapped[int] = mapped_column(BigId)
    last_removed_hash: Mapped[str] = mapped_column(String(64))
    removed: Mapped[int] = mapped_column(BigId)
    signature: Mapped[str] = mapped_column(String(64))

"""operations and approval requests

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Spelled out rather than imported from the models, so this file never changes meaning.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def UtcDateTime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approval_requests"),
    )
    op.create_index(
        "ix_approval_requests_status_expires", "approval_requests", ["status", "expires_at"]
    )
    op.create_table(
        "operations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("bake_until", UtcDateTime(), nullable=True),
        sa.Column("bake_alert", sa.Text(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_operations"),
    )
    op.create_index("ix_operations_status", "operations", ["status"])
    op.create_index("ix_operations_target", "operations", ["service", "environment", "id"])
    op.create_table(
        "operation_locks",
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("acquired_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("service", "environment", name="pk_operation_locks"),
    )
    op.create_table(
        "slack_event_receipts",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_slack_event_receipts"),
    )
    op.create_table(
        "dryrun_targets",
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("service", "environment", name="pk_dryrun_targets"),
    )


def downgrade() -> None:
    op.drop_table("dryrun_targets")
    op.drop_table("slack_event_receipts")
    op.drop_table("operation_locks")
    op.drop_index("ix_operations_target", table_name="operations")
    op.drop_index("ix_operations_status", table_name="operations")
    op.drop_table("operations")
    op.drop_index("ix_approval_requests_status_expires", table_name="approval_requests")
    op.drop_table("approval_requests")

"""heartbeats and on-call: expected signals, PagerDuty pages of no alert group, and the
last known on-call per schedule

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def UtcDateTime() -> sa.DateTime:  # reads like the model column type
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("watched_since", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=True),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("late_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_heartbeats"),
    )
    op.create_index("ix_heartbeats_due", "heartbeats", ["state", "due_at"])
    op.create_table(
        "oncall_snapshots",
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("fetched_at", UtcDateTime(), nullable=False),
        sa.Column("announced", sa.JSON(), nullable=True),
        sa.Column("announced_at", UtcDateTime(), nullable=True),
        sa.Column("usergroup_users", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_oncall_snapshots"),
    )
    # A late heartbeat's page has no alert group.
    with op.batch_alter_table("pagerduty_pages") as batch:
        batch.alter_column("group_id", existing_type=BigId, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM pagerduty_pages WHERE group_id IS NULL")
    with op.batch_alter_table("pagerduty_pages") as batch:
        batch.alter_column("group_id", existing_type=BigId, nullable=False)
    op.drop_table("oncall_snapshots")
    op.drop_index("ix_heartbeats_due", table_name="heartbeats")
    op.drop_table("heartbeats")

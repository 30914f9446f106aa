"""storm mode and several replicas: outbox claims, folded groups, delivery priority

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("slack_outbox") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("alert_groups") as batch:
        batch.add_column(sa.Column("storm_id", BigId, nullable=True))
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("group_key", sa.String(1024), nullable=True))
    op.create_index(
        "ix_webhook_deliveries_state_priority",
        "webhook_deliveries",
        ["state", "priority", "id"],
    )
    op.create_index("ix_slack_outbox_channel_state", "slack_outbox", ["channel", "state"])
    op.create_table(
        "alert_storms",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_fold_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert_storms"),
    )
    op.create_index("ix_alert_storms_channel_state", "alert_storms", ["channel", "state"])


def downgrade() -> None:
    op.drop_index("ix_alert_storms_channel_state", table_name="alert_storms")
    op.drop_table("alert_storms")
    op.drop_index("ix_slack_outbox_channel_state", table_name="slack_outbox")
    op.drop_index("ix_webhook_deliveries_state_priority", table_name="webhook_deliveries")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("group_key")
        batch.drop_column("priority")
    with op.batch_alter_table("alert_groups") as batch:
        batch.drop_column("storm_id")
    with op.batch_alter_table("slack_outbox") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")

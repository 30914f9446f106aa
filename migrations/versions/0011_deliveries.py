"""failed deliveries retried, kept and announced

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    # Finds the few deliveries waiting for a retry without scanning a storm's backlog.
    op.create_index(
        "ix_webhook_deliveries_state_retry", "webhook_deliveries", ["state", "next_attempt_at"]
    )
    with op.batch_alter_table("slack_outbox") as batch:
        batch.add_column(
            sa.Column("lookup_failures", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("slack_outbox") as batch:
        batch.drop_column("lookup_failures")
    op.drop_index("ix_webhook_deliveries_state_retry", table_name="webhook_deliveries")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")

"""alert data is untrusted: replay protection shared by replicas

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_request_receipts",
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_slack_request_receipts"),
    )
    op.create_index(
        "ix_slack_request_receipts_expires_at", "slack_request_receipts", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_slack_request_receipts_expires_at", table_name="slack_request_receipts")
    op.drop_table("slack_request_receipts")

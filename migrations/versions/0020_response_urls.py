"""slack_response_urls: the response_urls of commands and clicks, with their uses

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "slack_response_urls",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_slack_response_urls"),
    )
    op.create_index("ix_slack_response_urls_received_at", "slack_response_urls", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_response_urls_received_at", table_name="slack_response_urls")
    op.drop_table("slack_response_urls")

"""storms: one token bucket per Slack channel, shared by the replicas

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_channel_pace",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("tokens_at", sa.Double(), nullable=False),
        sa.Column("blocked_until", sa.Double(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("channel", name="pk_slack_channel_pace"),
    )


def downgrade() -> None:
    op.drop_table("slack_channel_pace")

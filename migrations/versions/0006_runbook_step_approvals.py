"""runbook step approvals: approval requests say what they ask to run

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every request stored before this revision is an operation's.
    with op.batch_alter_table("approval_requests") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="operation")
        )


def downgrade() -> None:
    # The older schema can only hold operations: runbook step requests cannot survive it.
    requests = sa.table("approval_requests", sa.column("kind", sa.String(16)))
    op.execute(requests.delete().where(requests.c.kind != "operation"))
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_column("kind")

"""releases that protect production: a rollback preempts a running shift

Revision ID: 0010
Revises: 0009

An operation a rollback cancelled records which rollback request did it, so its thread,
`/deploy status` and the audit trail can name it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operations") as batch:
        batch.add_column(sa.Column("superseded_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operations") as batch:
        batch.drop_column("superseded_by")

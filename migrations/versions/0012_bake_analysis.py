"""bake analysis with Prometheus: per-operation analysis state, files for Slack uploads

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("operations") as batch:
        batch.add_column(sa.Column("analysis_next_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("analysis_runs", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column(
                "analysis_failures", sa.Integer(), nullable=False, server_default=sa.text("0")
            )
        )
        batch.add_column(sa.Column("bake_failure", sa.Text(), nullable=True))
        batch.add_column(sa.Column("chart_done_at", sa.DateTime(timezone=True), nullable=True))
    # Bakes that ended before this version get no chart now.
    op.execute("UPDATE operations SET chart_done_at = finished_at WHERE finished_at IS NOT NULL")
    op.create_table(
        "outbox_files",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_files"),
    )


def downgrade() -> None:
    op.drop_table("outbox_files")
    with op.batch_alter_table("operations") as batch:
        batch.drop_column("chart_done_at")
        batch.drop_column("bake_failure")
        batch.drop_column("analysis_failures")
        batch.drop_column("analysis_runs")
        batch.drop_column("analysis_next_at")

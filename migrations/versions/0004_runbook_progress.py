"""runbook progress

Revision ID: 0004
Revises: 0003

The runbook linked to each alert group, the checklist opened in its thread, and each
step's state, so that progress survives restarts and is the same for everyone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("alert_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("runbook_id", sa.String(length=128), nullable=True))

    op.create_table(
        "runbook_checklists",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("alert_group_id", BIG_ID, nullable=False),
        sa.Column("runbook_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_group_id"],
            ["alert_groups.id"],
            name=op.f("fk_runbook_checklists_alert_group_id_alert_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runbook_checklists")),
        sa.UniqueConstraint("alert_group_id", name=op.f("uq_runbook_checklists_alert_group_id")),
    )
    op.create_table(
        "runbook_step_progress",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("checklist_id", BIG_ID, nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("user", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["checklist_id"],
            ["runbook_checklists.id"],
            name=op.f("fk_runbook_step_progress_checklist_id_runbook_checklists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runbook_step_progress")),
        sa.UniqueConstraint("checklist_id", "step_id", name="uq_runbook_step_progress_step"),
    )


def downgrade() -> None:
    op.drop_table("runbook_step_progress")
    op.drop_table("runbook_checklists")
    with op.batch_alter_table("alert_groups", schema=None) as batch_op:
        batch_op.drop_column("runbook_id")

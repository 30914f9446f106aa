"""escalation timers and pages

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Spelled out rather than imported from the models, so this file never changes meaning.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def UtcDateTime() -> sa.DateTime:  # reads like the model column type
    return sa.DateTime(timezone=True)


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalation_steps",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("group_id", BigId, nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=2), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["alert_groups.id"],
            name=op.f("fk_escalation_steps_group_id_alert_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_steps")),
    )
    op.create_index("ix_escalation_steps_due", "escalation_steps", ["state", "due_at"])
    op.create_index("ix_escalation_steps_group", "escalation_steps", ["group_id", "state"])

    op.create_table(
        "pagerduty_pages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("group_id", BigId, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("route_ref", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("announced", sa.Boolean(), nullable=False),
        sa.Column("followed", sa.String(length=16), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["alert_groups.id"],
            name=op.f("fk_pagerduty_pages_group_id_alert_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pagerduty_pages")),
    )
    op.create_index("ix_pagerduty_pages_due", "pagerduty_pages", ["state", "not_before"])
    op.create_index("ix_pagerduty_pages_group", "pagerduty_pages", ["group_id", "action"])
    op.create_index("ix_pagerduty_pages_dedup", "pagerduty_pages", ["dedup_key"])

    op.create_table(
        "pagerduty_incidents",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("group_id", BigId, nullable=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("urgency", sa.String(length=8), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("service_name", sa.String(length=255), nullable=False),
        sa.Column("html_url", sa.String(length=1024), nullable=False),
        sa.Column("assignees", sa.String(length=1024), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("note", sa.String(length=1024), nullable=True),
        sa.Column("last_event", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["alert_groups.id"],
            name=op.f("fk_pagerduty_incidents_group_id_alert_groups"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pagerduty_incidents")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_pagerduty_incidents_incident_id")),
    )


def downgrade() -> None:
    op.drop_table("pagerduty_incidents")
    op.drop_index("ix_pagerduty_pages_dedup", table_name="pagerduty_pages")
    op.drop_index("ix_pagerduty_pages_group", table_name="pagerduty_pages")
    op.drop_index("ix_pagerduty_pages_due", table_name="pagerduty_pages")
    op.drop_table("pagerduty_pages")
    op.drop_index("ix_escalation_steps_group", table_name="escalation_steps")
    op.drop_index("ix_escalation_steps_due", table_name="escalation_steps")
    op.drop_table("escalation_steps")

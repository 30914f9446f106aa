"""incidents: declared incidents and the alert groups that belong to them

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def UtcDateTime() -> sa.DateTime:  # reads like the model column type
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("title", sa.String(250), nullable=False),
        sa.Column("severity", sa.String(2), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lead", sa.String(32), nullable=False),
        sa.Column("declared_by", sa.String(32), nullable=False),
        sa.Column("declared_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("identified_at", UtcDateTime(), nullable=True),
        sa.Column("mitigated_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("channel_name", sa.String(80), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("service", sa.String(255), nullable=True),
        sa.Column("last_update", sa.Text(), nullable=True),
        sa.Column("last_update_by", sa.String(32), nullable=True),
        sa.Column("last_update_at", UtcDateTime(), nullable=True),
        sa.Column("remind_at", UtcDateTime(), nullable=True),
        sa.Column("archive_at", UtcDateTime(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_remind_at", "incidents", ["remind_at"])
    op.create_index("ix_incidents_channel_id", "incidents", ["channel_id"])
    op.create_table(
        "incident_groups",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("incident_id", BigId, nullable=False),
        sa.Column("group_id", BigId, nullable=False),
        sa.Column("linked_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_groups_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["alert_groups.id"],
            name="fk_incident_groups_group_id_alert_groups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_groups"),
        sa.UniqueConstraint("group_id", name="uq_incident_groups_group_id"),
    )
    op.create_index("ix_incident_groups_incident", "incident_groups", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_incident_groups_incident", table_name="incident_groups")
    op.drop_table("incident_groups")
    op.drop_index("ix_incidents_channel_id", table_name="incidents")
    op.drop_index("ix_incidents_remind_at", table_name="incidents")
    op.drop_table("incidents")

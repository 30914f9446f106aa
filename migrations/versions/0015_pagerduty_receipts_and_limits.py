"""PagerDuty event receipts kept with their incident, the incident's last change time,
and per-user request counters shared by the replicas

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pagerduty_event_receipts",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_pagerduty_event_receipts"),
    )
    op.create_index(
        "ix_pagerduty_event_receipts_incident", "pagerduty_event_receipts", ["incident_id"]
    )
    # Receipts of PagerDuty events taken so far lived with Slack's, swept after a day.
    op.execute(
        "INSERT INTO pagerduty_event_receipts (event_id, incident_id, received_at) "
        "SELECT event_id, '', received_at FROM slack_event_receipts "
        "WHERE event_id LIKE 'pagerduty:%'"
    )
    with op.batch_alter_table("pagerduty_incidents") as batch:
        batch.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "user_request_windows",
        sa.Column("key", sa.String(96), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_user_request_windows"),
    )


def downgrade() -> None:
    op.drop_table("user_request_windows")
    with op.batch_alter_table("pagerduty_incidents") as batch:
        batch.drop_column("changed_at")
    op.drop_index("ix_pagerduty_event_receipts_incident", "pagerduty_event_receipts")
    op.drop_table("pagerduty_event_receipts")

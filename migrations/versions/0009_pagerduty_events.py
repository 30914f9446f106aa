"""every PagerDuty incident event reflected

Revision ID: 0009
Revises: 0008

The message of a PagerDuty incident shows who holds it: the escalation policy it was
delegated to and the priority PagerDuty gives it, besides the assignees kept already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pagerduty_incidents") as batch:
        batch.add_column(sa.Column("escalation_policy", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("priority", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pagerduty_incidents") as batch:
        batch.drop_column("priority")
        batch.drop_column("escalation_policy")

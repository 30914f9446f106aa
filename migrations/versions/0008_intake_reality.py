"""intake from real senders: group keys of any length, Grafana's per-alert fields

Alert groups are now found by a SHA-256 digest of their groupKey (which has no length
limit); the full text is kept beside it. Pending deliveries get the same digest, so
that one group's deliveries keep their order. Alerts keep Grafana's links and values.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD_KEY_LENGTH = 1024


def _digest(text: str) -> str:
    # Frozen copy of alerts.alertmanager.group_key_digest: a migration must not change
    # when the application code does.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _body(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def upgrade() -> None:
    with op.batch_alter_table("alert_groups") as batch:
        batch.add_column(sa.Column("group_key_text", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("source", sa.String(16), nullable=False, server_default="alertmanager")
        )
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("extras", sa.JSON(), nullable=True))
    conn = op.get_bind()
    groups = sa.table(
        "alert_groups",
        sa.column("id", sa.BigInteger()),
        sa.column("group_key", sa.String()),
        sa.column("group_key_text", sa.Text()),
    )
    for row in conn.execute(sa.select(groups.c.id, groups.c.group_key)).all():
        conn.execute(
            groups.update()
            .where(groups.c.id == row.id)
            .values(group_key=_digest(row.group_key), group_key_text=row.group_key)
        )
    deliveries = sa.table(
        "webhook_deliveries",
        sa.column("id", sa.BigInteger()),
        sa.column("state", sa.String()),
        sa.column("body", sa.JSON()),
        sa.column("group_key", sa.String()),
    )
    pending = conn.execute(
        sa.select(deliveries.c.id, deliveries.c.body).where(deliveries.c.state == "pending")
    ).all()
    for row in pending:
        key = _body(row.body).get("groupKey")
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id == row.id)
            .values(group_key=_digest(key) if isinstance(key, str) and key else None)
        )


def downgrade() -> None:
    conn = op.get_bind()
    groups = sa.table(
        "alert_groups",
        sa.column("id", sa.BigInteger()),
        sa.column("group_key", sa.String()),
        sa.column("group_key_text", sa.Text()),
    )
    rows = conn.execute(sa.select(groups.c.id, groups.c.group_key_text)).all()
    for row in rows:
        # A key longer than the old column stays a digest: truncating could collide.
        text = row.group_key_text
        if text and len(text) <= OLD_KEY_LENGTH:
            conn.execute(groups.update().where(groups.c.id == row.id).values(group_key=text))
    deliveries = sa.table(
        "webhook_deliveries",
        sa.column("id", sa.BigInteger()),
        sa.column("state", sa.String()),
        sa.column("body", sa.JSON()),
        sa.column("group_key", sa.String()),
    )
    pending = conn.execute(
        sa.select(deliveries.c.id, deliveries.c.body).where(deliveries.c.state == "pending")
    ).all()
    for row in pending:
        key = _body(row.body).get("groupKey")
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id == row.id)
            .values(group_key=key[:OLD_KEY_LENGTH] if isinstance(key, str) and key else None)
        )
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("extras")
    with op.batch_alter_table("alert_groups") as batch:
        batch.drop_column("source")
        batch.drop_column("group_key_text")

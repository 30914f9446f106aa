"""audit hash chain

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
    # Chain the events written before this migration, oldest first, the way the bot does.
    audit = sa.table(
        "audit_log",
        sa.column("id"),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor"),
        sa.column("action"),
        sa.column("subject"),
        sa.column("details", sa.JSON()),
        sa.column("prev_hash"),
        sa.column("hash"),
    )
    bind = op.get_bind()
    prev = GENESIS
    for row in bind.execute(sa.select(audit).order_by(audit.c.id)).mappings():
        at = row["at"]
        if at.tzinfo is None:  # SQLite hands back naive UTC
            import datetime as _dt

            at = at.replace(tzinfo=_dt.UTC)
        canonical = json.dumps(
            {
                "prev": prev,
                "at": at.isoformat(),
                "actor": row["actor"],
                "action": row["action"],
                "subject": row["subject"],
                "details": row["details"],
            },
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        value = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        bind.execute(
            audit.update().where(audit.c.id == row["id"]).values(prev_hash=prev, hash=value)
        )
        prev = value


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")

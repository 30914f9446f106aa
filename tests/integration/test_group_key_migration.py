"""Migration 0008: alert groups stored before it are found by the new digest key, and the
downgrade gives them back their text key. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import text

from bot.storage import migrate
from bot.storage.engine import create_engine

SHORT = '{}:{alertname="DiskFull"}'
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def test_existing_group_keys_become_digests_and_come_back(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine, "0007")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO alert_groups (group_key, receiver, status, priority, channel,"
                    " group_labels, common_labels, common_annotations, external_url, digest,"
                    " first_firing_at, firing_since, created_at, updated_at) VALUES (:key,"
                    " 'chatops', 'firing', 'P2', 'C0000ALERT', '{}', '{}', '{}', '', 'd',"
                    " :now, :now, :now, :now)"
                ),
                {"key": SHORT, "now": NOW},
            )
            await conn.execute(
                text(
                    "INSERT INTO webhook_deliveries (source, received_at, body, state, group_key)"
                    " VALUES ('alertmanager', :now, :body, 'pending', :key)"
                ),
                {"now": NOW, "body": json.dumps({"groupKey": SHORT}), "key": SHORT},
            )

        await migrate.upgrade(engine, "0008")
        digest = hashlib.sha256(SHORT.encode()).hexdigest()
        async with engine.connect() as conn:
            group = (
                await conn.execute(
                    text("SELECT group_key, group_key_text, source FROM alert_groups")
                )
            ).one()
            delivery_key = await conn.scalar(text("SELECT group_key FROM webhook_deliveries"))
        assert tuple(group) == (digest, SHORT, "alertmanager")
        assert delivery_key == digest  # pending deliveries keep their group's order

        await migrate.downgrade(engine, "0007")
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT group_key FROM alert_groups")) == SHORT
            assert await conn.scalar(text("SELECT group_key FROM webhook_deliveries")) == SHORT
    finally:
        await engine.dispose()

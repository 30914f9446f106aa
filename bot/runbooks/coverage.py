"""The alerts stored in the database, for `chatops runbooks coverage`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from sqlalchemy import select

from bot.settings import Settings
from bot.storage.engine import create_engine
from bot.storage.models import Alert

StoredAlert = tuple[Mapping[str, str], Mapping[str, str]]


async def stored_alerts_at(database_url: str) -> list[StoredAlert]:
    """Each distinct (labels, annotations) of the stored alerts, newest first."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(Alert.labels, Alert.annotations).order_by(Alert.updated_at.desc())
                )
            ).all()
    finally:
        await engine.dispose()
    seen: dict[str, StoredAlert] = {}
    for labels, notes in rows:
        pair = (_strings(labels), _strings(notes))
        seen.setdefault(repr(sorted(pair[0].items())) + repr(sorted(pair[1].items())), pair)
    return list(seen.values())


def stored_alerts() -> list[StoredAlert]:
    """The alerts in the database named by DATABASE_URL (the CLI is synchronous)."""
    return asyncio.run(stored_alerts_at(Settings().database_url))


def _strings(data: object) -> dict[str, str]:
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}

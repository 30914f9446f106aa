"""Accepted Slack signatures are kept in the database until Slack's window ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.slack.replay_guard import ReplayGuard, window_end
from bot.storage import migrate
from bot.storage.engine import create_engine, session_factory


async def test_a_signature_is_refused_until_its_window_ends_then_forgotten(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        guard = ReplayGuard(session_factory(engine))
        now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        expires = window_end(str(int(now.timestamp())), now)
        assert expires - now >= timedelta(minutes=5)
        assert await guard.first_time("sig:v0=abc", expires, now)
        assert not await guard.first_time("sig:v0=abc", expires, now + timedelta(seconds=299))
        # Slack's freshness check refuses the timestamp itself from here on; the row goes.
        later = expires + timedelta(seconds=1)
        assert await guard.first_time("sig:v0=other", later + timedelta(minutes=5), later)
        assert await guard.first_time("sig:v0=abc", later + timedelta(minutes=5), later)
    finally:
        await engine.dispose()

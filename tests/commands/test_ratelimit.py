"""At most N commands (or clicks) per minute per person, counted in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage import migrate
from bot.storage.engine import create_engine, session_factory
from bot.storage.user_limits import SharedUserLimit

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()


async def allowed(limiter: SharedUserLimit, user: str, at: datetime) -> bool:
    return await limiter.check(user, at) is None


async def test_the_hundred_and_first_command_within_a_minute_is_refused(sessions) -> None:  # type: ignore[no-untyped-def]
    limiter = SharedUserLimit(sessions, "command", 100)
    for i in range(100):
        assert await allowed(limiter, "U1", T0 + timedelta(milliseconds=i))
    assert await limiter.check("U1", T0 + timedelta(seconds=15)) == timedelta(seconds=45)


async def test_the_limit_is_per_user_and_per_kind(sessions) -> None:  # type: ignore[no-untyped-def]
    commands = SharedUserLimit(sessions, "command", 2)
    clicks = SharedUserLimit(sessions, "click", 2)
    assert await allowed(commands, "U1", T0) and await allowed(commands, "U1", T0)
    assert not await allowed(commands, "U1", T0)
    assert await allowed(commands, "U2", T0)
    assert await allowed(clicks, "U1", T0)


async def test_refused_requests_do_not_extend_the_wait(sessions) -> None:  # type: ignore[no-untyped-def]
    limiter = SharedUserLimit(sessions, "command", 1)
    assert await allowed(limiter, "U1", T0)
    for second in range(1, 60, 7):
        assert not await allowed(limiter, "U1", T0 + timedelta(seconds=second))
    assert await allowed(limiter, "U1", T0 + timedelta(seconds=60))
    assert not await allowed(limiter, "U1", T0 + timedelta(seconds=61))

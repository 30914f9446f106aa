"""At most 100 commands per minute per person, measured on a sliding window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from commands.registry import RateLimiter

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_the_hundred_and_first_command_within_a_minute_is_refused() -> None:
    limiter = RateLimiter()
    assert all(limiter.allow("U1", T0 + timedelta(milliseconds=i)) for i in range(100))
    assert not limiter.allow("U1", T0 + timedelta(seconds=30))


def test_the_limit_is_per_user() -> None:
    limiter = RateLimiter(limit=2)
    assert limiter.allow("U1", T0) and limiter.allow("U1", T0)
    assert not limiter.allow("U1", T0)
    assert limiter.allow("U2", T0)


def test_the_window_slides() -> None:
    limiter = RateLimiter(limit=2, window=timedelta(minutes=1))
    assert limiter.allow("U1", T0)
    assert limiter.allow("U1", T0 + timedelta(seconds=40))
    assert not limiter.allow("U1", T0 + timedelta(seconds=59))
    # The first command leaves the window after exactly one minute; the second stays.
    assert limiter.allow("U1", T0 + timedelta(seconds=60))
    assert not limiter.allow("U1", T0 + timedelta(seconds=61))


def test_refused_commands_do_not_extend_the_wait() -> None:
    limiter = RateLimiter(limit=1)
    assert limiter.allow("U1", T0)
    for second in range(1, 60):
        assert not limiter.allow("U1", T0 + timedelta(seconds=second))
    assert limiter.allow("U1", T0 + timedelta(seconds=60))


def test_retry_after_says_how_long_to_wait() -> None:
    limiter = RateLimiter(limit=1)
    assert limiter.retry_after("U1", T0) == timedelta(0)
    limiter.allow("U1", T0)
    assert limiter.retry_after("U1", T0 + timedelta(seconds=15)) == timedelta(seconds=45)


def test_idle_users_are_forgotten() -> None:
    limiter = RateLimiter(limit=1)
    for i in range(1500):
        limiter.allow(f"early{i}", T0)
    for i in range(1000):
        limiter.allow(f"late{i}", T0 + timedelta(minutes=2))
    assert len(limiter._seen) <= 1000
    assert not limiter.allow("late999", T0 + timedelta(minutes=2, seconds=1))

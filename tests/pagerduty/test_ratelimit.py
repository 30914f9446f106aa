"""The per-routing-key sliding-window limiter, driven by a fake clock (no real sleeping)."""

from __future__ import annotations

import asyncio

import pytest

from actions.pagerduty.ratelimit import RateLimiter
from tests.pagerduty.conftest import FakeTime

KEY = "A" * 32
OTHER = "B" * 32


def _limiter(fake_time: FakeTime, limit: int = 120, window: float = 60.0) -> RateLimiter:
    return RateLimiter(limit, window, clock=fake_time, sleep=fake_time.sleep)


def _max_in_any_window(times: list[float], window: float) -> int:
    """The most events found in any half-open window (t - window, t]."""
    ordered = sorted(times)
    return max(sum(1 for s in ordered if t - window < s <= t) for t in ordered)


async def test_first_120_events_go_at_once_and_the_121st_waits_a_minute(
    fake_time: FakeTime,
) -> None:
    limiter = _limiter(fake_time)

    for _ in range(120):
        await limiter.acquire(KEY)
    assert fake_time.sleeps == []
    assert limiter.would_wait(KEY) == 60.0

    await limiter.acquire(KEY)
    assert fake_time.sleeps == [60.0]
    assert fake_time.now == 1060.0


async def test_window_slides_rather_than_resetting(fake_time: FakeTime) -> None:
    limiter = _limiter(fake_time)
    for _ in range(60):
        await limiter.acquire(KEY)
    fake_time.now += 30
    for _ in range(60):
        await limiter.acquire(KEY)

    # The first 60 leave the window at t+60, i.e. 30 seconds from now.
    assert limiter.would_wait(KEY) == 30.0
    fake_time.now += 30
    assert limiter.would_wait(KEY) == 0.0
    for _ in range(60):
        await limiter.acquire(KEY)
    assert fake_time.sleeps == []
    assert limiter.would_wait(KEY) == 30.0, "the second 60 still fill half the window"


async def test_sustained_load_never_exceeds_120_per_minute(fake_time: FakeTime) -> None:
    limiter = _limiter(fake_time)
    asked: list[float] = []
    sent: list[float] = []

    for n in range(600):
        if n % 7 == 0:
            fake_time.now += 1.5  # a bursty producer, faster than the limit on average
        asked.append(fake_time.now)
        await limiter.acquire(KEY)
        sent.append(fake_time.now)

    assert _max_in_any_window(sent, 60.0) == 120
    assert fake_time.sleeps, "the producer was faster than the limit"
    # Pacing without idling: an event that had to wait went the moment the event 120
    # places before it left the window, not later.
    for n, (asked_at, sent_at) in enumerate(zip(asked, sent, strict=True)):
        if sent_at > asked_at:
            assert sent_at == sent[n - 120] + 60.0


async def test_concurrent_senders_share_the_limit_in_order(fake_time: FakeTime) -> None:
    limiter = _limiter(fake_time, limit=10, window=60.0)
    order: list[int] = []
    sent: list[float] = []

    async def send(n: int) -> None:
        await limiter.acquire(KEY)
        order.append(n)
        sent.append(fake_time.now)

    await asyncio.gather(*(send(n) for n in range(35)))

    assert order == list(range(35)), "waiters are served first come, first served"
    assert _max_in_any_window(sent, 60.0) == 10
    assert sent[-1] - sent[0] == 180.0


async def test_keys_are_limited_independently(fake_time: FakeTime) -> None:
    limiter = _limiter(fake_time, limit=2)
    await limiter.acquire(KEY)
    await limiter.acquire(KEY)

    assert limiter.would_wait(KEY) == 60.0
    assert limiter.would_wait(OTHER) == 0.0
    await limiter.acquire(OTHER)
    assert fake_time.sleeps == []


def test_unknown_key_never_waits_and_repr_hides_keys(fake_time: FakeTime) -> None:
    limiter = _limiter(fake_time)

    assert limiter.would_wait(KEY) == 0.0
    assert KEY not in repr(limiter)
    assert (limiter.limit, limiter.window) == (120, 60.0)


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (-5, 60.0), (120, 0.0), (1, -1.0)])
def test_nonsense_limits_are_refused(limit: int, window: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(limit, window)

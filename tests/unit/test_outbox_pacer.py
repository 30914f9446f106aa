"""The outbox paces every channel at Slack's documented rate and keeps a reserve for P0/P1."""

from __future__ import annotations

import pytest

from bot.slack.outbox.pacing import UPDATE_KEY, Pacer, bucket_of, is_urgent


def takes(pacer: Pacer, channel: str, now: float, *, urgent: bool) -> bool:
    if not pacer.can_take(channel, now, urgent=urgent):
        return False
    pacer.take(channel, now)
    return True


def test_a_channel_is_paced_from_its_first_post_without_any_429() -> None:
    pacer = Pacer()
    burst = [takes(pacer, "C1", 0.0, urgent=False) for _ in range(5)]
    assert burst == [True, False, False, False, False]  # the rest of the burst is reserve
    assert pacer.ready_at("C1", 0.0) == 0.25
    assert takes(pacer, "C1", 0.25, urgent=False)
    # From then on one post a second, as Slack documents.
    assert not takes(pacer, "C1", 1.2, urgent=False)
    assert takes(pacer, "C1", 1.25, urgent=False)
    # Another channel has its own bucket.
    assert takes(pacer, "C2", 1.25, urgent=False)


def test_a_p0_spends_the_reserve_the_backlog_leaves() -> None:
    pacer = Pacer()
    now = 0.0
    for _ in range(30):  # a backlog drained as fast as the pacer allows
        now = pacer.ready_at("C1", now)
        assert takes(pacer, "C1", now, urgent=False)
    assert not pacer.can_take("C1", now, urgent=False)
    assert takes(pacer, "C1", now, urgent=True)  # the P0, at once
    assert not pacer.can_take("C1", now, urgent=True)


def test_after_retry_after_the_urgent_post_goes_first() -> None:
    pacer = Pacer()
    pacer.throttled("C1", 10.0, retry_after=2.0)
    assert not pacer.can_take("C1", 11.9, urgent=True)
    assert pacer.ready_at("C1", 10.0, urgent=True) == 12.0
    # When Retry-After ends Slack has refilled one token: the P0 takes it, the backlog
    # waits until the reserve is back.
    assert not pacer.can_take("C1", 12.0, urgent=False)
    assert takes(pacer, "C1", 12.0, urgent=True)
    assert pacer.ready_at("C1", 12.0) == 14.0


def test_a_storm_summary_queued_at_p1_leaves_the_reserve_to_the_next_p0() -> None:
    assert is_urgent(0, "alert-group:1")
    assert is_urgent(1, "alert-group:2")
    assert is_urgent(1, None)
    assert not is_urgent(1, "storm:7")  # queued ahead of the backlog, paced like it
    assert not is_urgent(2, "alert-group:3")


def test_urgent_posts_leave_a_margin_for_the_drift_between_our_bucket_and_slacks() -> None:
    pacer = Pacer()
    # Slack's bucket holds 3, but counts each post a little after we do: the third urgent
    # post of an instant waits a quarter second rather than risk a 429.
    assert [takes(pacer, "C1", 0.0, urgent=True) for _ in range(3)] == [True, True, False]
    assert pacer.ready_at("C1", 0.0, urgent=True) == 0.25


def test_updates_have_one_bucket_for_the_workspace() -> None:
    pacer = Pacer()
    assert bucket_of("update", "C1") == bucket_of("update", "C2") == UPDATE_KEY
    assert bucket_of("post", "C1") == "C1" and bucket_of("ephemeral", "C1") is None
    taken = [takes(pacer, UPDATE_KEY, 0.0, urgent=False) for _ in range(25)]
    assert taken.count(True) == 18  # a burst of 20, less the reserve
    assert takes(pacer, "C1", 0.0, urgent=False)  # posts are not held by updates
    # Then 50 a minute: 1.2 s a token (the first waits for the last quarter of one).
    assert pacer.ready_at(UPDATE_KEY, 0.0) == pytest.approx(0.3)
    assert takes(pacer, UPDATE_KEY, 0.3, urgent=False)
    assert pacer.ready_at(UPDATE_KEY, 0.3) == pytest.approx(1.5)

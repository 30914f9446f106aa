"""Pacing: how fast the outbox posts to one channel.

Every channel is paced from its first post at Slack's documented rate (about one message
per second per channel, short bursts), whether or not Slack ever answered 429, because
above that rate Slack may hide an app's messages instead of refusing them. Part of each
channel's bucket is a reserve that only P0/P1 posts may spend, so a P0 goes out the moment
it is claimed even in a channel with a long backlog. `Retry-After` is always honoured, for
that channel only, and when it ends the bucket holds exactly the one token Slack has
refilled by then: the most urgent waiting post is the first call sent.

Message updates have a limit of their own: chat.update is a Tier 3 method, "50+ per
minute" per app per workspace with sporadic bursts, whatever the channel. Twenty storm
summaries each rewritten every two seconds would be ten a second, so updates share one
workspace-wide bucket (`UPDATE_KEY`) at that rate, with the same reserve for P0/P1 groups'
own messages. A pending update that waits merges with the next change of its message
(outbox_queue.py), so waiting costs no call, only freshness.

Slack's limits do not depend on which replica calls, so the buckets live where they meet:
each claiming pass loads its channels' buckets from the database under a row lock, paces
with them here and writes them back (shared_pace.py).
"""

from __future__ import annotations

POSTING = ("post", "reply")  # chat.postMessage: what Slack's per-channel limit counts
PACED = (*POSTING, "upload")  # a shared file is a message in the channel too

PACE_PER_SECOND = 1.0  # Slack: about one message per second per channel
PACE_BURST = 3.0  # short bursts are tolerated (the emulator's bucket holds 3)
# Our bucket counts a post when it is claimed, Slack's when the call arrives; under load
# the two drift by a few hundred milliseconds. Every call leaves this much in the bucket
# for that drift (measured: P0 thread notes refused 429 when urgent calls could take the
# last token on a busy machine).
PACE_JITTER = 0.25
# Tokens only P0/P1 posts may spend: one post, on top of the jitter margin.
PACE_RESERVE = 1.0 + PACE_JITTER
URGENT_PRIORITY = 1  # outbox priorities 0 (P0) and 1 (P1) may spend the reserve

UPDATE_KEY = "method:chat.update"  # the workspace-wide bucket of message updates
UPDATE_PER_SECOND = 50 / 60  # Tier 3: 50+ per minute
# Slack publishes no burst size for Tier 3 ("sporadic bursts are welcome"); twenty lets a
# storm's first summaries all be named at once, then the rate holds.
UPDATE_BURST = 20.0


def bucket_of(op: str, channel: str) -> str | None:
    """Which bucket a call spends: its channel's (posts), the workspace's updates, or none."""
    if op in PACED:
        return channel
    if op == "update":
        return UPDATE_KEY
    return None


def rate_of(key: str) -> tuple[float, float]:
    """A bucket's (tokens per second, burst)."""
    if key == UPDATE_KEY:
        return UPDATE_PER_SECOND, UPDATE_BURST
    return PACE_PER_SECOND, PACE_BURST


class Pacer:
    """Token buckets by key (`bucket_of`): one per channel for posts, on from a channel's
    first post, and one for updates.

    Low-priority posts leave `PACE_RESERVE` tokens in the bucket; urgent ones may take
    all but `PACE_JITTER`. After a 429 the bucket is empty until `Retry-After` ends, then
    holds one token (what Slack has refilled), so the next urgent post goes first and the
    backlog resumes only once the reserve has refilled.
    """

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        self._blocked: dict[str, float] = {}  # channel -> Retry-After ends

    def load(self, channel: str, tokens: float, at: float, blocked_until: float) -> None:
        """Start from a bucket as another pass (of any replica) left it."""
        self._buckets[channel] = (tokens, at)
        self._blocked[channel] = blocked_until

    def state(self, channel: str, now: float) -> tuple[float, float, float]:
        """The channel's bucket as (tokens, at, blocked_until), to store."""
        tokens, at = self._buckets.get(channel, (rate_of(channel)[1], now))
        return tokens, at, self._blocked.get(channel, 0.0)

    def available(self, channel: str, now: float) -> float:
        if self._blocked.get(channel, 0.0) > now:
            return 0.0
        per_second, burst = rate_of(channel)
        tokens, at = self._buckets.get(channel, (burst, now))
        return min(burst, tokens + max(0.0, now - at) * per_second)

    @staticmethod
    def needed(urgent: bool) -> float:
        return 1.0 + PACE_JITTER if urgent else 1.0 + PACE_RESERVE

    def can_take(self, channel: str, now: float, *, urgent: bool) -> bool:
        return self.available(channel, now) >= self.needed(urgent)

    def take(self, channel: str, now: float) -> None:
        self._buckets[channel] = (self.available(channel, now) - 1.0, now)

    def ready_at(self, channel: str, now: float, *, urgent: bool = False) -> float:
        """When the channel can take a post of this urgency."""
        blocked = self._blocked.get(channel, 0.0)
        start = max(now, blocked)
        missing = self.needed(urgent) - self.available(channel, start)
        return start if missing <= 0 else start + missing / rate_of(channel)[0]

    def throttled(self, channel: str, now: float, retry_after: float) -> None:
        ends = now + retry_after
        self._blocked[channel] = ends
        # Slack counted from when the refused call arrived, before we read its answer, so
        # when Retry-After ends here its bucket holds at least the one token it waited
        # for, whatever the drift: one call may go at once, margin included.
        self._buckets[channel] = (1.0 + PACE_JITTER, ends)


def is_urgent(priority: int, message_key: str | None) -> bool:
    """Whether a post may spend its channel's reserve: a P0/P1 group's own messages and
    threads. A storm summary sits at P1 in the queue (ahead of the backlog it replaces) but
    leaves the reserve to the P0 that may come next."""
    return priority <= URGENT_PRIORITY and not (message_key or "").startswith("storm:")

"""New groups of a storm named in its summary's thread when the summary cannot be
rewritten soon.

A summary names its groups when it is rewritten (chat.update), and every summary of the
workspace shares Slack's Tier 3 limit on updates (about 50 a minute: `UPDATE_KEY` in
bot/slack/outbox/pacing.py). With twenty channels storming, each summary is rewritten
about every 24 s, and a group folded just after a rewrite waits that long to be named.
Posts are limited per channel instead (about one a second), a budget a storming channel
hardly spends once its backlog is folded. So when a summary that has been posted changes
and the update bucket could not rewrite it within `NAME_WITHIN`, a reply in its thread
names the groups that no message has named yet (`AlertGroup.storm_named_at`), at most one
reply every `REPLY_SPACING` per summary; the summary's next rewrite lists them as usual.

Like the summary, the reply is queued with a mark and rendered when the outbox claims it
(`render_names`), so it names every group folded until it goes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.storm_summary import StormItem, render_names
from bot.slack.outbox.pacing import PACE_RESERVE, UPDATE_KEY, rate_of
from bot.slack.outbox_queue import enqueue
from bot.storage.models import AlertGroup, AlertStorm, OutboxEntry, SlackChannelPace

# Payload mark of a names reply: True while queued (rendered when claimed), then SENT, so
# that a retried call is not rendered again and the spacing counts it.
NAMES = "names"
SENT = "rendered"
# Groups should be named within 10 s of their webhook (issue 23): a reply goes when the
# summary's rewrite is further off than this; sooner, the rewrite names them anyway.
NAME_WITHIN = 4.0
# A reply per summary at most this often: a thread that names new groups every few
# seconds, not one reply per folded group (posts go one a second per channel).
REPLY_SPACING = timedelta(seconds=3)
# The summary's latest thread replies read to find its last names reply: a long storm's
# thread grows (reminders too), and the last names reply is among the newest.
RECENT_REPLIES = 20
SCOPE_LABELS = ("namespace", "cluster", "instance", "pod", "job")


def storm_item(group: AlertGroup, *, own_message: bool = False) -> StormItem:
    labels = {**group.group_labels, **group.common_labels}
    alertname = str(labels.get("alertname") or group.group_key_text or group.group_key)
    service = str(labels.get("service") or "")
    scope = [
        str(v) for k, v in group.group_labels.items() if k not in ("alertname", "service")
    ] or [str(labels[k]) for k in SCOPE_LABELS if k in labels][:1]
    return StormItem(
        group_id=group.id,
        alertname=alertname,
        service=service,
        scope=" ".join(scope),
        status=group.status,
        changed_at=group.updated_at,
        own_message=own_message,
        acked=group.acked_by is not None,
    )


async def update_wait(session: AsyncSession, now: datetime, priority: int) -> float:
    """About how long a summary update queued now waits for the update bucket: its
    tokens against the updates of the same priority or more urgent queued before it."""
    per_second, burst = rate_of(UPDATE_KEY)
    at = now.timestamp()
    bucket = await session.get(SlackChannelPace, UPDATE_KEY)
    tokens, blocked = burst, 0.0
    if bucket is not None:
        tokens = min(burst, bucket.tokens + max(0.0, at - bucket.tokens_at) * per_second)
        blocked = bucket.blocked_until
    ahead = await session.scalar(
        select(func.count())
        .select_from(OutboxEntry)
        .where(
            OutboxEntry.state == "pending",
            OutboxEntry.op == "update",
            OutboxEntry.priority <= priority,
        )
    )
    missing = int(ahead or 0) + 1.0 + PACE_RESERVE - tokens  # a summary is never urgent
    return max(0.0, blocked - at) + max(0.0, missing / per_second)


async def name_in_thread(
    session: AsyncSession,
    storm: AlertStorm,
    key: str,
    priority: int,
    now: datetime,
    update: OutboxEntry,
) -> None:
    """The posted summary `key` has changed (`update`: its pending rewrite, if queued):
    queue a names reply if it is needed. The rewrite is then held back until the update
    bucket should have room for it: the outbox keeps a channel's calls in order, so a
    rewrite waiting for the bucket would hold the reply (and the channel) behind it."""
    unnamed = await session.scalar(
        select(AlertGroup.id)
        .where(AlertGroup.storm_id == storm.id, AlertGroup.storm_named_at.is_(None))
        .limit(1)
    )
    if unnamed is None:
        return
    replies = (
        await session.execute(
            select(OutboxEntry.state, OutboxEntry.payload, OutboxEntry.sent_at)
            .where(OutboxEntry.message_key == key, OutboxEntry.op == "reply")
            .order_by(OutboxEntry.id.desc())
            .limit(RECENT_REPLIES)
        )
    ).all()
    named_by_reply = [(s, sent) for s, payload, sent in replies if payload.get(NAMES)]
    # A queued one names whatever is folded until it goes.
    if any(state == "pending" for state, _ in named_by_reply):
        return
    wait = await update_wait(session, now, priority)
    if wait <= NAME_WITHIN:
        return
    if update.state == "pending":
        update.not_before = max(update.not_before, now + timedelta(seconds=wait))
    row = await enqueue(
        session,
        op="reply",
        channel=storm.channel,
        payload={NAMES: True, "text": ""},
        message_key=key,
        priority=priority,
        now=now,
    )
    last = max((sent for _, sent in named_by_reply if sent is not None), default=None)
    if last is not None:
        row.not_before = max(now, last + REPLY_SPACING)


async def mark_named(session: AsyncSession, storm_id: int, at: datetime) -> list[int]:
    """Record that the groups of the storm not named yet are named now; their ids."""
    return list(
        (
            await session.scalars(
                update(AlertGroup)
                .where(AlertGroup.storm_id == storm_id, AlertGroup.storm_named_at.is_(None))
                .values(storm_named_at=at)
                .returning(AlertGroup.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    )


async def names_reply(session: AsyncSession, storm_id: int, at: datetime) -> dict[str, Any]:
    """The reply as it goes now: every group of the storm no message has named yet."""
    ids = await mark_named(session, storm_id, at)
    if not ids:
        return {**render_names([]), NAMES: SENT}  # the summary's rewrite named them first
    groups = await session.scalars(
        select(AlertGroup).where(AlertGroup.id.in_(ids)).order_by(AlertGroup.id)
    )
    return {**render_names([storm_item(g) for g in groups]), NAMES: SENT}

"""Storm mode: when a channel's backlog is long, new low-priority groups share one message.

A storm opens in a channel when a new P2/P3 group would be posted while the channel
already has `alerts.storm_threshold` messages waiting and Slack answered 429 there in
the last ten minutes (Slack posts about one message per second per channel, so that is
a queue of that many seconds; when Slack takes every post at once, no storm is needed).
While it is open, every new P2/P3 group of the channel is folded: it gets no message of
its own, and one
summary message per storm lists the folded groups ("37 more alert groups firing: ..."),
rewritten in place as groups come and resolve. Those rewrites coalesce in the outbox,
so a storm of hundreds of groups costs a handful of Slack calls. P0 and P1 groups are
never folded; a folded group whose priority rises to P0/P1 is posted on its own at once.

Unfolding: a storm closes when nothing was folded for `alerts.storm_calm` and the
channel's backlog is under half the threshold. The groups still firing then get their
own message (with the buttons, runbook and escalation thread that a line in a summary
cannot have), queued behind every other message so that they never delay live
traffic; the resolved ones stay only in the summary, which says the storm is over. A
group that fires again after its storm gets its own message as usual.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.config import AlertsConfig
from alerts.render import StormItem, render_storm
from bot import audit
from bot.claims import xact_lock
from bot.outbox_queue import channel_backlog, enqueue, rate_limited_since
from bot.storage.models import AlertGroup, AlertStorm, OutboxEntry

OWN_MESSAGE = ("P0", "P1")
SUMMARY_PRIORITY = 1  # the summary goes ahead of the channel's P2/P3 backlog
UNFOLD_PRIORITY = 4  # after every live message
LISTED = 200
RATE_LIMIT_MEMORY = timedelta(minutes=10)


# A summary changes with every folded group; Slack sees its newest state at most this often.
SUMMARY_SPACING = timedelta(seconds=2)


def summary_key(storm: AlertStorm) -> str:
    return f"storm:{storm.id}"


async def open_storm(session: AsyncSession, channel: str) -> AlertStorm | None:
    return (
        await session.scalars(
            select(AlertStorm)
            .where(AlertStorm.channel == channel, AlertStorm.state == "open")
            .order_by(AlertStorm.id)
            .limit(1)
        )
    ).first()


async def fold(
    session: AsyncSession, group: AlertGroup, config: AlertsConfig, now: datetime
) -> bool:
    """Whether `group` (which has no message of its own) is to live in a storm summary.

    Called for every change of a group without a message; True means "folded, do not
    post". It refreshes the summary (a coalesced update) whenever it folds.
    """
    threshold = config.storm_threshold
    if group.storm_id is not None:
        storm = await session.get(AlertStorm, group.storm_id)
        if storm is None or storm.state != "open":
            return False  # the storm is over: the group gets its own message
        await refresh_summary(session, storm, config, now)
        return group.priority not in OWN_MESSAGE
    if threshold is None or group.priority in OWN_MESSAGE:
        return False
    # One storm per channel even with several replicas deciding at the same time.
    await xact_lock(session, f"storm:{group.channel}")
    storm = await open_storm(session, group.channel)
    if storm is None:
        if await channel_backlog(session, group.channel) < threshold:
            return False
        # Only a channel Slack is holding back is in a storm: when Slack takes every post
        # at once, a long queue drains in moments and each group keeps its own message.
        if not await rate_limited_since(session, group.channel, now - RATE_LIMIT_MEMORY):
            return False
        storm = AlertStorm(channel=group.channel, state="open", opened_at=now, last_fold_at=now)
        session.add(storm)
        await session.flush()
        audit.record(
            session,
            at=now,
            actor=audit.SYSTEM,
            action="alert.storm_opened",
            subject=f"channel:{group.channel}",
            threshold=threshold,
        )
    group.storm_id = storm.id
    storm.last_fold_at = now
    await session.flush()
    await refresh_summary(session, storm, config, now)
    return True


async def refresh_summary(
    session: AsyncSession, storm: AlertStorm, config: AlertsConfig, now: datetime
) -> None:
    groups = (
        await session.scalars(
            select(AlertGroup)
            .where(AlertGroup.storm_id == storm.id)
            .order_by(AlertGroup.id)
            .limit(LISTED)
        )
    ).all()
    folded = await session.scalar(
        select(func.count()).select_from(AlertGroup).where(AlertGroup.storm_id == storm.id)
    )
    items = [
        StormItem(
            name=_name(g),
            status=g.status,
            own_message=g.priority in OWN_MESSAGE,
        )
        for g in groups
    ]
    more = int(folded or 0) - len(items)
    payload = render_storm(items, threshold=config.storm_threshold or 0, over=storm.state != "open")
    if more > 0:
        payload["text"] += f" (+{more})"
    key = summary_key(storm)
    posted = await session.scalar(
        select(OutboxEntry.id)
        .where(OutboxEntry.message_key == key, OutboxEntry.op == "post")
        .limit(1)
    )
    await enqueue(
        session,
        op="update" if posted is not None else "post",
        channel=storm.channel,
        payload=payload,
        message_key=key,
        priority=SUMMARY_PRIORITY,
        now=now,
        min_spacing=SUMMARY_SPACING,
    )


async def close_calm_storms(
    session: AsyncSession, config: AlertsConfig, now: datetime
) -> list[int]:
    """Close the storms that have passed; returns their ids (see the module's notes)."""
    from bot.alert_groups import has_message, message_key, refresh_message

    storms = (
        await session.scalars(
            select(AlertStorm)
            .where(AlertStorm.state == "open", AlertStorm.last_fold_at <= now - config.storm_calm)
            .order_by(AlertStorm.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    closed = []
    for storm in storms:
        threshold = config.storm_threshold or 1
        if await channel_backlog(session, storm.channel) >= max(1, threshold // 2):
            continue
        await xact_lock(session, f"storm:{storm.channel}")
        storm.state = "closed"
        storm.closed_at = now
        await session.flush()
        groups = (
            await session.scalars(
                select(AlertGroup)
                .where(AlertGroup.storm_id == storm.id, AlertGroup.status == "firing")
                .order_by(AlertGroup.id)
            )
        ).all()
        for group in groups:
            if not await has_message(session, message_key(group)):
                await refresh_message(session, group, config, now, unfold=True)
        await refresh_summary(session, storm, config, now)
        audit.record(
            session,
            at=now,
            actor=audit.SYSTEM,
            action="alert.storm_closed",
            subject=f"channel:{storm.channel}",
            unfolded=len(groups),
        )
        closed.append(storm.id)
    return closed


async def open_count(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(AlertStorm).where(AlertStorm.state == "open")
    )
    return int(count or 0)


def _name(group: AlertGroup) -> str:
    labels = {**group.group_labels, **group.common_labels}
    name = str(labels.get("alertname") or group.group_key_text or group.group_key)
    extra = [
        f"{k}={labels[k]}"
        for k in ("service", "namespace", "cluster", "instance")
        if k in labels and k not in group.group_labels
    ]
    scope = [f"{k}={v}" for k, v in group.group_labels.items() if k != "alertname"]
    parts = scope or extra[:2]
    return f"{name} ({', '.join(parts)})" if parts else name

"""Storm mode: when a channel's queue is long, new low-priority groups share one message.

A channel is in a storm when its backlog of posts would take more than
`alerts.storm_threshold` seconds to drain at the rate the outbox paces it (Slack's
documented one message per second per channel). The queue decides, not Slack's 429s:
Slack may hide an app's messages past its rate instead of refusing them. While a storm is
open every new P2/P3 group of the channel is folded: it gets no message of its own, and
one summary message per storm names every folded group (alerts/storm_summary.py),
rewritten in place as groups come, change and resolve. Those rewrites coalesce in the
outbox, so a storm of hundreds of groups costs a handful of Slack calls.

A folded group stays in its summary until it resolves (then it is marked resolved
there), rises to P0/P1 (then it is posted on its own at once) or is opened from the
summary. When the storm calms (nothing folded for `alerts.storm_calm` and the queue
short again) the summary says so; nothing is re-posted, so the channel is not flooded
with the groups it already lists. A folded group that fires again after its storm is
over is a new incident and gets its own message. Escalation reminders of folded groups
go to the summary's thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from alerts.config import AlertsConfig
from alerts.storm_summary import render_storm
from bot.alerts import storm_names
from bot.alerts.storm_names import storm_item
from bot.audit import trail
from bot.replicas.claims import xact_lock
from bot.slack.outbox.claiming import Prepare
from bot.slack.outbox.pacing import PACE_PER_SECOND
from bot.slack.outbox_queue import backlog_seconds, enqueue, pending_call, waiting_posts
from bot.storage.models import AlertGroup, AlertStorm, OutboxEntry

OWN_MESSAGE = ("P0", "P1")
SUMMARY_PRIORITY = 1  # the summary goes ahead of the channel's P2/P3 backlog

# A summary changes with every folded group; Slack sees its newest state at most this often.
SUMMARY_SPACING = timedelta(seconds=2)
FOLDED = "storm.folded"  # session.info: groups this transaction folded
FOLDED_CALL = "folded"  # outbox state of a group's queued post taken into a storm
FOLDABLE_RANK = 2  # outbox priority of P2 and P3 groups' messages
# A queued summary call holding only this is rendered when the outbox claims it.
STALE = "stale"
MEMO = "storm.memo"  # session.info: what the transaction knows of storms (`_memo`)


def summary_key(storm_id: int) -> str:
    return f"storm:{storm_id}"


@dataclass
class _Memo:
    """What one transaction has learnt about storms, so that folding a batch of groups
    does not ask again per group: the channels whose storm lock it holds, their open
    storms (none can open or close elsewhere while the lock is held), and the summaries
    it has marked stale already (nothing else changes their pending call meanwhile)."""

    locked: set[str] = field(default_factory=set)
    storms: dict[str, AlertStorm] = field(default_factory=dict)
    stale: set[int] = field(default_factory=set)


def _memo(session: AsyncSession) -> _Memo:
    transaction = session.sync_session.get_transaction()
    held: tuple[object, _Memo] | None = session.info.get(MEMO)
    if held is None or held[0] is not transaction:
        held = (transaction, _Memo())
        if transaction is not None:
            session.info[MEMO] = held
    return held[1]


async def _storm_and_backlog(session: AsyncSession, channel: str) -> tuple[AlertStorm | None, int]:
    """The channel's open storm, and how many posts wait in its queue, in one round trip."""
    waiting = waiting_posts(channel).subquery()
    storm, count = (
        await session.execute(
            select(AlertStorm, waiting.c.waiting)
            .select_from(waiting)
            .outerjoin(AlertStorm, and_(AlertStorm.channel == channel, AlertStorm.state == "open"))
            .order_by(AlertStorm.id)
            .limit(1)
        )
    ).one()
    return storm, int(count or 0)


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
        if storm is None:
            return False
        await summary_changed(session, storm, now)
        return group.priority not in OWN_MESSAGE  # risen: posted on its own, at once
    if threshold is None or group.priority in OWN_MESSAGE:
        return False
    memo = _memo(session)
    if group.channel not in memo.locked:
        # One storm per channel even with several replicas deciding at the same time.
        await xact_lock(session, f"storm:{group.channel}")
        memo.locked.add(group.channel)
    storm = memo.storms.get(group.channel)
    if storm is None:
        storm, waiting = await _storm_and_backlog(session, group.channel)
        if storm is None:
            if waiting / PACE_PER_SECOND <= threshold:
                return False
            storm = await _open(session, group.channel, threshold, now)
        memo.storms[group.channel] = storm
    group.storm_id = storm.id
    storm.last_fold_at = now
    session.info[FOLDED] = session.info.get(FOLDED, 0) + 1  # counted once committed
    await summary_changed(session, storm, now)
    return True


async def _open(session: AsyncSession, channel: str, threshold: int, now: datetime) -> AlertStorm:
    storm = AlertStorm(channel=channel, state="open", opened_at=now, last_fold_at=now)
    session.add(storm)
    await session.flush()
    trail.record(
        session,
        at=now,
        actor=trail.SYSTEM,
        action="alert.storm_opened",
        subject=f"channel:{channel}",
        threshold=threshold,
    )
    await _fold_queued(session, storm)
    return storm


async def _fold_queued(session: AsyncSession, storm: AlertStorm) -> None:
    """The P2/P3 groups whose own posts are still queued when the storm opens join it:
    those posts are the backlog that opened it, and would reach Slack one a second, long
    after the summary names every later group. Their calls are kept, marked `folded`
    (never sent). A post already tried once stays: a 5xx or a lost connection may have
    posted it, and the outbox finds out (bot/slack/outbox)."""
    keys = (
        await session.scalars(
            update(OutboxEntry)
            .where(
                OutboxEntry.channel == storm.channel,
                OutboxEntry.state == "pending",
                OutboxEntry.op == "post",
                OutboxEntry.attempts == 0,
                OutboxEntry.priority >= FOLDABLE_RANK,
                OutboxEntry.message_key.like("alert-group:%"),
            )
            .values(state=FOLDED_CALL)
            .returning(OutboxEntry.message_key)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not keys:
        return
    # Whatever else waits for those posts (thread replies, graphs) would wait for ever.
    await session.execute(
        update(OutboxEntry)
        .where(OutboxEntry.message_key.in_(keys), OutboxEntry.state == "pending")
        .values(state=FOLDED_CALL)
        .execution_options(synchronize_session=False)
    )
    ids = [int(str(k).removeprefix("alert-group:")) for k in keys]
    for group in await session.scalars(select(AlertGroup).where(AlertGroup.id.in_(ids))):
        group.storm_id = storm.id
    session.info[FOLDED] = session.info.get(FOLDED, 0) + len(ids)


def count_folds(session_class: type[Session], count: Callable[[int], None]) -> None:
    """Report the groups folded by each committed transaction of `session_class` (the
    `chatops_storm_folded_groups` metric); a rolled-back fold folded nothing."""

    def committed(session: Session) -> None:
        folded = int(session.info.pop(FOLDED, 0))
        if folded:
            count(folded)

    def rolled_back(session: Session) -> None:
        session.info.pop(FOLDED, None)

    event.listen(session_class, "after_commit", committed)
    event.listen(session_class, "after_rollback", rolled_back)


async def release_after_storm(session: AsyncSession, group: AlertGroup) -> None:
    """A folded group firing again once its storm is over is a new incident: it leaves
    the summary and gets its own message."""
    if group.storm_id is None:
        return
    storm = await session.get(AlertStorm, group.storm_id)
    if storm is None or storm.state != "open":
        group.storm_id = None


async def summary_changed(session: AsyncSession, storm: AlertStorm, now: datetime) -> None:
    """Say that the summary has changed, at constant cost: one pending call per summary
    carries a stale mark, and the outbox renders it from the database when it claims it
    (`render_stale_summaries`). Rendering here, on every fold, read every folded group
    again each time: a storm of n groups cost the intake O(n^2) rows. Within one
    transaction the mark is set once, however many of the storm's groups change."""
    memo = _memo(session)
    if storm.id in memo.stale:
        return
    key = summary_key(storm.id)
    # A pending post or update takes the mark (what `enqueue` would merge it into); only
    # without one does it matter whether the summary was ever posted.
    pending = await pending_call(session, key)
    if pending is not None:
        pending.payload = {**pending.payload, STALE: True}
        pending.priority = min(pending.priority, SUMMARY_PRIORITY)
    else:
        posted = await session.scalar(
            select(OutboxEntry.id)
            .where(OutboxEntry.message_key == key, OutboxEntry.op == "post")
            .limit(1)
        )
        pending = await enqueue(
            session,
            op="update" if posted is not None else "post",
            channel=storm.channel,
            payload={STALE: True},
            message_key=key,
            priority=SUMMARY_PRIORITY,
            now=now,
            min_spacing=SUMMARY_SPACING,
        )
    memo.stale.add(storm.id)
    if pending.op == "update":
        # Posted already: new groups may be named in its thread sooner than by a rewrite.
        await storm_names.name_in_thread(session, storm, key, SUMMARY_PRIORITY, now, pending)


async def render_summary(
    session: AsyncSession, storm: AlertStorm, config: AlertsConfig
) -> dict[str, Any]:
    """The summary as it is now: every folded group, read once."""
    groups = (
        await session.scalars(
            select(AlertGroup).where(AlertGroup.storm_id == storm.id).order_by(AlertGroup.id)
        )
    ).all()
    keys = [f"alert-group:{g.id}" for g in groups]
    own = set(
        (
            await session.scalars(
                select(OutboxEntry.message_key).where(
                    OutboxEntry.message_key.in_(keys),
                    OutboxEntry.op == "post",
                    OutboxEntry.state != FOLDED_CALL,
                )
            )
        ).all()
    )
    items = [
        storm_item(g, own_message=f"alert-group:{g.id}" in own or g.priority in OWN_MESSAGE)
        for g in groups
    ]
    return render_storm(
        items,
        threshold=config.storm_threshold or 0,
        over=storm.state != "open",
        storm_id=storm.id,
    )


def summary_renderer(config: AlertsConfig) -> Prepare:
    """What the outbox calls on the rows it has just claimed (bot/slack/outbox/claiming.py)."""

    async def render_stale_summaries(session: AsyncSession, rows: Sequence[OutboxEntry]) -> None:
        for row in rows:
            key = row.message_key or ""
            if not key.startswith("storm:"):
                continue
            at = row.claimed_at or row.created_at
            storm_id = int(key.removeprefix("storm:"))
            if row.payload.get(storm_names.NAMES) is True:
                row.payload = await storm_names.names_reply(session, storm_id, at)
                continue
            storm = await session.get(AlertStorm, storm_id) if row.payload.get(STALE) else None
            if storm is not None:
                # Marked before it is read: a group folded meanwhile is named twice at worst.
                await storm_names.mark_named(session, storm.id, at)
                row.payload = await render_summary(session, storm, config)

    return render_stale_summaries


async def close_calm_storms(
    session: AsyncSession, config: AlertsConfig, now: datetime
) -> list[int]:
    """Close the storms that have passed; returns their ids (see the module's notes)."""
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
        if await backlog_seconds(session, storm.channel) > threshold / 2:
            continue
        await xact_lock(session, f"storm:{storm.channel}")
        storm.state = "closed"
        storm.closed_at = now
        await session.flush()
        firing = await session.scalar(
            select(func.count())
            .select_from(AlertGroup)
            .where(AlertGroup.storm_id == storm.id, AlertGroup.status == "firing")
        )
        await summary_changed(session, storm, now)
        trail.record(
            session,
            at=now,
            actor=trail.SYSTEM,
            action="alert.storm_closed",
            subject=f"channel:{storm.channel}",
            still_firing=int(firing or 0),
        )
        closed.append(storm.id)
    return closed


async def open_count(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(AlertStorm).where(AlertStorm.state == "open")
    )
    return int(count or 0)


def group_name(group: AlertGroup) -> str:
    """How the summary and its thread name a group: alertname, service and scope."""
    item = storm_item(group)
    return " · ".join(part for part in (item.alertname, item.service, item.scope) if part)

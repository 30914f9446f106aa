"""Alert groups in the database: building their view and queueing their Slack message.

Every change to a group ends in `refresh_message`, which renders the group from the
database (the source of truth) and queues a post or an in-place update.

The message's PagerDuty line is PagerDuty's to say (bot/pagerduty/status.py): the service
hands its source to every session it opens (`session.info[PAGERDUTY_NOTE]`), so the core
of alert groups reads it without depending on the PagerDuty feature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import messages as m
from alerts.alertmanager import UNREPORTED
from alerts.config import AlertsConfig
from alerts.escalation import is_digest
from alerts.render import AlertView, GroupView, render_group
from alerts.slack_text import escape
from bot.alerts import storm
from bot.slack.outbox_queue import enqueue
from bot.storage.models import Alert, AlertGroup, OutboxEntry

# The PagerDuty line of a group's message (raw text), from the session's info.
NoteSource = Callable[[AsyncSession, int], Awaitable[str | None]]
PAGERDUTY_NOTE = "alerts.pagerduty_note"
# The group's incident line (mrkdwn, the bot's own markup), from bot/incidents likewise;
# a group in an incident has no Declare incident button.
INCIDENT_NOTE = "alerts.incident_note"
# Who is on call for a group ("<@U...>, ...", mrkdwn), from the session's info: the
# on-call feature's last known answer (bot/oncall/alert_note.py), never PagerDuty itself.
OnCallSource = Callable[[AsyncSession, AlertGroup], Awaitable[str | None]]
ONCALL_NOTE = "alerts.oncall_note"


def message_key(group: AlertGroup) -> str:
    return f"alert-group:{group.id}"


def priority_rank(priority: str) -> int:
    return int(priority[1]) if len(priority) == 2 and priority[1].isdigit() else 2


def _shown_order(group_id: int) -> Select[Alert]:
    """A group's alerts in the order they are shown: firing first, then the newest."""
    return (
        select(Alert)
        .where(Alert.group_id == group_id)
        .order_by(Alert.status.asc(), Alert.starts_at.desc(), Alert.id)
    )


def _view(row: Alert) -> AlertView:
    return AlertView(
        name=row.alertname,
        status=row.status,
        labels=row.labels,
        annotations=row.annotations,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        generator_url=row.generator_url,
        extras=row.extras or {},
    )


async def alert_views(
    session: AsyncSession, group_id: int, *, offset: int = 0, limit: int | None = None
) -> list[AlertView]:
    """A group's alerts in the order they are shown: firing first, then the newest."""
    rows = (await session.scalars(_shown_order(group_id).offset(offset).limit(limit))).all()
    return [_view(row) for row in rows]


async def alert_counts(session: AsyncSession, group_id: int) -> tuple[int, int]:
    """(all alerts, firing alerts) of a group."""
    rows = (
        await session.execute(
            select(Alert.status, func.count())
            .where(Alert.group_id == group_id)
            .group_by(Alert.status)
        )
    ).all()
    counts = {str(status): int(count) for status, count in rows}
    return sum(counts.values()), counts.get("firing", 0)


async def counted_views(
    session: AsyncSession, group_id: int, limit: int
) -> tuple[list[AlertView], int, int, int]:
    """The first `limit` alerts as shown, with (all, firing, no longer reported) counts of
    the whole group, in one query: window functions count every alert before LIMIT
    applies. A group's message is rendered on every change, so this is one round trip a
    change instead of two."""
    total = func.count().over()
    firing = func.sum(case((Alert.status == "firing", 1), else_=0)).over()
    unreported = func.sum(case((Alert.status == UNREPORTED, 1), else_=0)).over()
    rows = (
        await session.execute(
            _shown_order(group_id).add_columns(total, firing, unreported).limit(limit)
        )
    ).all()
    if not rows:
        return [], 0, 0, 0
    first = rows[0]
    return [_view(row[0]) for row in rows], int(first[1]), int(first[2] or 0), int(first[3] or 0)


# A message shows at most 20 alerts (alerts.max_alerts_shown); a group of thousands is
# neither loaded nor rendered whole for each update.
VIEW_ALERTS = 20


async def load_view(
    session: AsyncSession, group: AlertGroup, config: AlertsConfig, *, truncated: int = 0
) -> GroupView:
    alerts, total, firing, unreported = await counted_views(session, group.id, VIEW_ALERTS)
    policy = config.escalation.get(group.priority)  # type: ignore[call-overload]
    return GroupView(
        id=group.id,
        status=group.status,
        priority=group.priority,
        alerts=alerts,
        alert_count=total,
        firing_count=firing,
        unreported_count=unreported,
        source=group.source or "alertmanager",
        group_labels=group.group_labels,
        common_labels=group.common_labels,
        common_annotations=group.common_annotations,
        external_url=group.external_url,
        firing_since=group.firing_since,
        resolved_at=group.resolved_at,
        acked_by=group.acked_by,
        acked_at=group.acked_at,
        truncated_alerts=truncated,
        mention=policy.mention if policy else None,
        runbook_id=group.runbook_id,
        pagerduty=await _pagerduty_note(session, group.id),
        incident=await _incident_note(session, group.id),
        oncall=await oncall_note(session, group),
    )


async def _incident_note(session: AsyncSession, group_id: int) -> str | None:
    source: NoteSource | None = session.info.get(INCIDENT_NOTE)
    return await source(session, group_id) if source is not None else None


async def _pagerduty_note(session: AsyncSession, group_id: int) -> str | None:
    source: NoteSource | None = session.info.get(PAGERDUTY_NOTE)
    return await source(session, group_id) if source is not None else None


async def oncall_note(session: AsyncSession, group: AlertGroup) -> str | None:
    """Who is on call for the group, as mrkdwn mentions; None when nobody is known."""
    source: OnCallSource | None = session.info.get(ONCALL_NOTE)
    return await source(session, group) if source is not None else None


async def refresh_message(
    session: AsyncSession,
    group: AlertGroup,
    config: AlertsConfig,
    now: datetime,
    *,
    first: bool = False,
    truncated: int = 0,
    thread_ts: str | None = None,
) -> None:
    """Queue the group's post or in-place update. `thread_ts` posts it in that thread
    (a group opened from a storm summary), whatever digest or storm would do with it."""
    key = message_key(group)
    policy = config.escalation.get(group.priority)  # type: ignore[call-overload]
    posted = False if first or thread_ts else await has_message(session, key)
    if not posted and not thread_ts and is_digest(policy):
        return  # gathered into the channel's digest instead (bot/escalation/digest.py)
    if not posted and not thread_ts and await storm.fold(session, group, config, now):
        return  # listed in the channel's storm summary instead (bot/alerts/storm.py)
    view = await load_view(session, group, config, truncated=truncated)
    payload = render_group(view, now, max_alerts=config.max_alerts_shown)
    if thread_ts:
        payload["thread_ts"] = thread_ts
    priority = priority_rank(group.priority)
    await enqueue(
        session,
        # A group first gathered into a digest gets its own message once its priority rises.
        op="update" if posted else "post",
        channel=group.channel,
        payload=payload,
        message_key=message_key(group),
        priority=priority,
        now=now,
    )


async def has_message(session: AsyncSession, key: str) -> bool:
    """Whether a post for `key` was ever queued (rows are kept, so this is exact), other
    than one taken into a storm before it was sent."""
    found = await session.scalar(
        select(OutboxEntry.id)
        .where(
            OutboxEntry.message_key == key,
            OutboxEntry.op == "post",
            OutboxEntry.state != storm.FOLDED_CALL,
        )
        .limit(1)
    )
    return found is not None


async def reply(
    session: AsyncSession,
    group: AlertGroup,
    text: str,
    now: datetime,
    *,
    blocks: list[dict[str, Any]] | None = None,
    priority: int | None = None,
    in_summary: bool = False,
) -> bool:
    """Queue a reply in the group's thread; False when the group has no thread.

    A group folded into a storm summary has no thread of its own: with `in_summary`
    (escalation reminders) the line goes to the summary's thread, naming the group; other
    lines are shown by the summary itself."""
    if await has_message(session, message_key(group)):
        key = message_key(group)
    elif in_summary and group.storm_id is not None:
        key = storm.summary_key(group.storm_id)
        text = m.STORM_REMINDER.format(name=escape(storm.group_name(group)), text=text)
    else:
        return False  # a digest-only or folded group has no thread to reply in
    await enqueue(
        session,
        op="reply",
        channel=group.channel,
        payload={"text": text, "blocks": blocks} if blocks else {"text": text},
        message_key=key,
        priority=priority_rank(group.priority) if priority is None else priority,
        now=now,
    )
    return True

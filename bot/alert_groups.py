"""Alert groups in the database: building their view and queueing their Slack message.

Every change to a group ends in `refresh_message`, which renders the group from the
database (the source of truth) and queues a post or an in-place update.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.config import AlertsConfig
from alerts.escalation import is_digest
from alerts.render import AlertView, GroupView, render_group
from bot import storm
from bot.outbox_queue import enqueue
from bot.pagerduty.status import pagerduty_note
from bot.storage.models import Alert, AlertGroup, OutboxEntry, SlackMessage


def message_key(group: AlertGroup) -> str:
    return f"alert-group:{group.id}"


def priority_rank(priority: str) -> int:
    return int(priority[1]) if len(priority) == 2 and priority[1].isdigit() else 2


async def load_view(
    session: AsyncSession, group: AlertGroup, config: AlertsConfig, *, truncated: int = 0
) -> GroupView:
    rows = (
        await session.scalars(
            select(Alert)
            .where(Alert.group_id == group.id)
            # Firing first, then the newest: what the on-call engineer needs to see first.
            .order_by(Alert.status.asc(), Alert.starts_at.desc(), Alert.id)
        )
    ).all()
    policy = config.escalation.get(group.priority)  # type: ignore[call-overload]
    return GroupView(
        id=group.id,
        status=group.status,
        priority=group.priority,
        alerts=[
            AlertView(
                name=row.alertname,
                status=row.status,
                labels=row.labels,
                annotations=row.annotations,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                generator_url=row.generator_url,
            )
            for row in rows
        ],
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
        pagerduty=await pagerduty_note(session, group.id),
    )


async def refresh_message(
    session: AsyncSession,
    group: AlertGroup,
    config: AlertsConfig,
    now: datetime,
    *,
    first: bool = False,
    truncated: int = 0,
    unfold: bool = False,
) -> None:
    key = message_key(group)
    policy = config.escalation.get(group.priority)  # type: ignore[call-overload]
    posted = False if first else await has_message(session, key)
    if not posted and is_digest(policy):
        return  # gathered into the channel's digest instead (bot/escalation/digest.py)
    if not posted and not unfold and await storm.fold(session, group, config, now):
        return  # listed in the channel's storm summary instead (bot/storm.py)
    view = await load_view(session, group, config, truncated=truncated)
    payload = render_group(view, now, max_alerts=config.max_alerts_shown)
    priority = priority_rank(group.priority)
    if unfold:
        priority = max(priority, storm.UNFOLD_PRIORITY)  # never ahead of live traffic
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
    """Whether a post for `key` was ever queued (rows are kept, so this is exact)."""
    found = await session.scalar(
        select(OutboxEntry.id)
        .where(OutboxEntry.message_key == key, OutboxEntry.op == "post")
        .limit(1)
    )
    return found is not None


async def reply(session: AsyncSession, group: AlertGroup, text: str, now: datetime) -> None:
    if not await has_message(session, message_key(group)):
        return  # a digest-only group has no thread to reply in
    await enqueue(
        session,
        op="reply",
        channel=group.channel,
        payload={"text": text},
        message_key=message_key(group),
        priority=priority_rank(group.priority),
        now=now,
    )


async def slack_message(session: AsyncSession, key: str) -> SlackMessage | None:
    return (await session.scalars(select(SlackMessage).where(SlackMessage.key == key))).first()

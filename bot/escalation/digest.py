"""The P3 digest: low-priority groups gathered into one message per channel.

A digest cycle starts with the first low-priority group in a channel: after
`digest_every` the channel gets one message listing them, rewritten in place every
period while any of them still fires; when none does, the cycle ends and the next
low-priority alert starts a new message.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.config import AlertsConfig, EscalationPolicy
from alerts.digest_message import DigestItem, render_digest
from alerts.durations import format_duration
from alerts.escalation import is_digest, next_after
from alerts.render import title
from bot.alerts.groups import has_message, load_view
from bot.audit import trail
from bot.escalation.models import EscalationStep
from bot.slack.outbox_queue import enqueue
from bot.storage.models import AlertGroup

MAX_ITEMS = 100


def message_key(channel: str, cycle: str) -> str:
    return f"digest:{channel}:{cycle}"


async def ensure_planned(
    session: AsyncSession, channel: str, priority: str, policy: EscalationPolicy, now: datetime
) -> datetime | None:
    """Make sure the channel has a digest coming; returns its due time when newly planned."""
    assert policy.digest_every is not None
    pending = (
        await session.scalars(
            select(EscalationStep.id)
            .where(
                EscalationStep.kind == "digest",
                EscalationStep.channel == channel,
                EscalationStep.state == "pending",
            )
            .limit(1)
        )
    ).first()
    if pending is not None:
        return None
    due = now + policy.digest_every
    session.add(
        EscalationStep(
            group_id=None,
            channel=channel,
            priority=priority,
            kind="digest",
            due_at=due,
            state="pending",
            payload={"cycle": str(int(now.timestamp())), "since": now.isoformat()},
            created_at=now,
        )
    )
    return due


async def run(
    session: AsyncSession, step: EscalationStep, config: AlertsConfig, now: datetime
) -> str:
    policy = config.escalation.get(step.priority)  # type: ignore[call-overload]
    items = await _items(session, step, config)
    every = policy.digest_every if policy is not None and policy.digest_every else None
    payload = render_digest(items, now, every=format_duration(every) if every else "period")
    key = message_key(step.channel, str(step.payload["cycle"]))
    await enqueue(
        session,
        op="update" if await has_message(session, key) else "post",
        channel=step.channel,
        payload=payload,
        message_key=key,
        priority=3,
        now=now,
    )
    trail.record(
        session,
        at=now,
        actor=trail.SYSTEM,
        action="escalation.digest",
        subject=f"channel:{step.channel}",
        groups=[item.group_id for item in items],
    )
    if every is not None and any(item.status == "firing" for item in items):
        session.add(
            EscalationStep(
                group_id=None,
                channel=step.channel,
                priority=step.priority,
                kind="digest",
                due_at=next_after(step.due_at, every, now),
                state="pending",
                payload=dict(step.payload),
                created_at=now,
            )
        )
    return "done"


async def _items(
    session: AsyncSession, step: EscalationStep, config: AlertsConfig
) -> list[DigestItem]:
    """The channel's low-priority groups of this cycle: firing ones first, then those
    resolved since the cycle started."""
    priorities = [p for p, pol in config.escalation.items() if is_digest(pol)]
    since = datetime.fromisoformat(str(step.payload["since"]))
    groups = (
        await session.scalars(
            select(AlertGroup)
            .where(
                AlertGroup.channel == step.channel,
                AlertGroup.priority.in_(priorities),
                or_(AlertGroup.status == "firing", AlertGroup.updated_at >= since),
            )
            .order_by(AlertGroup.status.asc(), AlertGroup.firing_since, AlertGroup.id)
            .limit(MAX_ITEMS)
        )
    ).all()
    items = []
    for group in groups:
        view = await load_view(session, group, config)
        summary = group.common_annotations.get("summary") or next(
            (a.annotations.get("summary", "") for a in view.alerts), ""
        )
        items.append(
            DigestItem(
                group_id=group.id,
                priority=group.priority,
                status=group.status,
                name=title(view),
                summary=summary,
                firing_since=group.firing_since,
                resolved_at=group.resolved_at,
            )
        )
    return items

"""Escalation and the alerts Alertmanager no longer reports (silenced or inhibited there).

A step comes due for a group none of whose alerts is reported firing any more (the
group's later notifications left them out, bot/alerts/notification.py), or, for a page,
whose firing alerts Alertmanager holds as muted (bot/alerts/muted.py: it sends nothing
when all of a group is muted): the step is skipped with `NOT_REPORTED`. When a
notification reports them firing again, each such step is due again at once: its time
passed while the group went unacknowledged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.escalation.models import EscalationStep
from bot.escalation.steps import Arm, after_commit, new_step
from bot.storage.models import Alert, AlertGroup

NOT_REPORTED = "no alert reported firing"
# Whether Alertmanager holds every firing alert of the group as muted (bot/alerts/muted.py).
MutedCheck = Callable[[AsyncSession, AlertGroup, datetime], Awaitable[bool]]


async def held_back(
    session: AsyncSession,
    step: EscalationStep,
    group: AlertGroup,
    now: datetime,
    muted: MutedCheck | None,
) -> bool:
    """Whether the due `step` is skipped because nothing of its group is reported firing
    (then it carries `NOT_REPORTED`)."""
    found = await session.scalar(
        select(Alert.id).where(Alert.group_id == group.id, Alert.status == "firing").limit(1)
    )
    if found is not None and not (
        step.kind == "page" and muted is not None and await muted(session, group, now)
    ):
        return False
    step.note = NOT_REPORTED
    return True


async def resume(session: AsyncSession, group: AlertGroup, now: datetime, arm: Arm) -> None:
    """The group's alerts are reported firing again: each step skipped meanwhile is due
    again at once, unless a step of its kind is pending already."""
    if group.status != "firing" or group.acked_by:
        return
    steps = (
        await session.scalars(
            select(EscalationStep).where(
                EscalationStep.group_id == group.id,
                EscalationStep.state.in_(("pending", "skipped")),
            )
        )
    ).all()
    pending = {s.kind for s in steps if s.state == "pending"}
    for skipped in steps:
        if skipped.note != NOT_REPORTED:
            continue
        skipped.note = f"{NOT_REPORTED}; planned again"
        if skipped.kind in pending:
            continue
        pending.add(skipped.kind)
        session.add(
            new_step(
                group=group,
                channel=skipped.channel,
                priority=skipped.priority,
                kind=skipped.kind,
                due=now,
                now=now,
                payload=dict(skipped.payload),
            )
        )
        after_commit(session, now, arm)

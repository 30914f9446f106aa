"""Escalation and the alerts Alertmanager no longer reports (silenced or inhibited there).

A step that comes due for a group none of whose alerts is reported firing any more (the
group's later notifications left them out, bot/alerts/notification.py) is skipped with
`NOT_REPORTED`; when a notification reports them firing again, each such step is due
again at once (its time passed while the group went unacknowledged). A page first asks
Alertmanager, when ALERTMANAGER_URL is set (bot/alerts/muted.py): it sends nothing when a
whole group is muted, nor when that silence ends (until repeat_interval), so a page for a
group it mutes whole is held and asked about again every `ASK_AGAIN`, and goes out as
soon as Alertmanager holds one of the alerts active.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.escalation.models import EscalationStep
from bot.escalation.steps import Arm, after_commit, new_step
from bot.storage.models import Alert, AlertGroup

NOT_REPORTED = "no alert reported firing"
MUTED = "muted in Alertmanager: asked again"
# Alertmanager sends nothing when a silence of a whole group ends (until its
# repeat_interval, hours by default): a held page asks again this often.
ASK_AGAIN = timedelta(minutes=1)
# Whether Alertmanager holds every alert of the group as muted: True, False, or None
# when it cannot say (bot/alerts/muted.py).
MutedCheck = Callable[[AsyncSession, AlertGroup, datetime], Awaitable[bool | None]]


async def held_back(
    session: AsyncSession,
    step: EscalationStep,
    group: AlertGroup,
    now: datetime,
    muted: MutedCheck | None,
) -> str | None:
    """What becomes of the due `step` instead of running: "pending" (a page held while
    Alertmanager mutes the whole group, asked again in `ASK_AGAIN`), "skipped" (nothing
    of its group is reported firing: it carries `NOT_REPORTED`), or None: it runs."""
    if step.kind == "page" and muted is not None:
        verdict = await muted(session, group, now)
        if verdict is True:
            step.due_at = now + ASK_AGAIN
            step.finished_at = None
            step.note = MUTED
            return "pending"
        if verdict is False:
            return None  # Alertmanager holds one of them active: page
    found = await session.scalar(
        select(Alert.id).where(Alert.group_id == group.id, Alert.status == "firing").limit(1)
    )
    if found is not None:
        return None
    step.note = NOT_REPORTED
    return "skipped"


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

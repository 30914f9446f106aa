"""What the runbook use cases write besides progress: the checklist message and replies in
the alert's thread (queued through the outbox in the click's transaction) and the audit
events that say who did what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.runbooks import Runbook, is_complete, render_checklist, render_summary
from alerts.runbooks.render import StepButton
from alerts.runbooks.specs import StepSpecs
from bot.alerts.groups import message_key, priority_rank
from bot.audit import trail
from bot.runbooks.models import RunbookChecklist
from bot.runbooks.store import alert_data, checklist_key, progress_of
from bot.slack.outbox_queue import enqueue
from bot.storage.models import AlertGroup

MAX_SECTION = 3000


def clip(text: str) -> str:
    return text if len(text) <= MAX_SECTION else text[: MAX_SECTION - 1] + "…"


def text_payload(text: str) -> dict[str, Any]:
    """A reply of one mrkdwn section, within Slack's size for it."""
    return {"text": clip(text), "blocks": [{"type": "section", "text": _mrkdwn(text)}]}


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(text)}


def jsonable(params: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = params.model_dump(mode="json")
    return dumped


async def refresh_checklist(
    session: AsyncSession,
    group: AlertGroup,
    checklist: RunbookChecklist,
    runbook: Runbook,
    now: datetime,
    specs: StepSpecs,
    *,
    thread_ts: str | None = None,
) -> None:
    """Queue the checklist as it is in the database: posted in the thread the first
    time, updated in place after that."""
    progress = await progress_of(session, checklist)
    _, labels, annotations = await alert_data(session, group)
    payload = render_checklist(
        runbook,
        progress,
        alert_group_id=group.id,
        labels=labels,
        annotations=annotations,
        registry=specs,
    )
    if thread_ts is not None:
        payload["thread_ts"] = thread_ts
    await enqueue(
        session,
        op="post" if thread_ts is not None else "update",
        channel=group.channel,
        payload=payload,
        message_key=checklist_key(group.id),
        priority=priority_rank(group.priority),
        now=now,
    )


async def reply(
    session: AsyncSession, group: AlertGroup, payload: dict[str, Any], now: datetime
) -> None:
    await enqueue(
        session,
        op="reply",
        channel=group.channel,
        payload=payload,
        message_key=message_key(group),
        priority=priority_rank(group.priority),
        now=now,
    )


async def finish_if_complete(
    session: AsyncSession,
    group: AlertGroup,
    checklist: RunbookChecklist,
    runbook: Runbook,
    now: datetime,
) -> None:
    """Once every step is done or skipped: the summary in the thread, once."""
    progress = await progress_of(session, checklist)
    if checklist.finished_at is not None or not is_complete(runbook, progress):
        return
    checklist.finished_at = now
    summary = render_summary(runbook, progress, opened_at=checklist.opened_at, finished_at=now)
    await reply(session, group, summary, now)
    record(
        session,
        group,
        trail.SYSTEM,
        "runbook.finished",
        runbook,
        now,
        seconds=int((now - checklist.opened_at).total_seconds()),
    )


def record(
    session: AsyncSession,
    group: AlertGroup,
    user: str,
    action: str,
    runbook: Runbook,
    now: datetime,
    **details: Any,
) -> None:
    trail.record(
        session,
        at=now,
        actor=user,
        action=action,
        subject=f"alert-group:{group.id}",
        runbook=runbook.id,
        version=runbook.version,
        via="slack",
        **details,
    )


def record_refused(
    session: AsyncSession,
    group_id: int,
    user: str,
    button: StepButton,
    reason: str,
    now: datetime,
    **details: Any,
) -> None:
    """A click refused before anything changed, with what its button said."""
    trail.record(
        session,
        at=now,
        actor=user,
        action="runbook.step.refused",
        subject=f"alert-group:{group_id}",
        runbook=button.runbook_id,
        version=button.version,
        step=button.step_id,
        reason=reason,
        via="slack",
        **details,
    )

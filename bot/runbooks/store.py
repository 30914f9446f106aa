"""Reading and writing runbook progress: the checklist row and its steps, in the caller's
transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.runbooks.render import Progress, ProgressEntry
from bot.runbooks.models import RunbookChecklist, RunbookStepProgress
from bot.storage.models import Alert, AlertGroup, SlackMessage


def checklist_key(alert_group_id: int) -> str:
    """The checklist message's outbox key; its thread parent is `alert-group:<id>`."""
    return f"runbook:{alert_group_id}"


def group_of_key(key: str) -> int | None:
    prefix, _, number = key.partition(":")
    if prefix != "runbook" or not number.isdigit():
        return None
    return int(number)


async def checklist_of(session: AsyncSession, alert_group_id: int) -> RunbookChecklist | None:
    return (
        await session.scalars(
            select(RunbookChecklist).where(RunbookChecklist.alert_group_id == alert_group_id)
        )
    ).first()


async def steps_of(session: AsyncSession, checklist: RunbookChecklist) -> list[RunbookStepProgress]:
    return list(
        (
            await session.scalars(
                select(RunbookStepProgress).where(RunbookStepProgress.checklist_id == checklist.id)
            )
        ).all()
    )


async def progress_of(session: AsyncSession, checklist: RunbookChecklist) -> Progress:
    entries: dict[str, ProgressEntry] = {
        row.step_id: (row.state, row.user, row.at) for row in await steps_of(session, checklist)
    }
    return entries


async def set_step(
    session: AsyncSession,
    checklist: RunbookChecklist,
    step_id: str,
    *,
    state: str,
    user: str,
    at: datetime,
    note: str | None = None,
) -> RunbookStepProgress:
    row = next((r for r in await steps_of(session, checklist) if r.step_id == step_id), None)
    if row is None:
        row = RunbookStepProgress(checklist_id=checklist.id, step_id=step_id)
        session.add(row)
    row.state = state
    row.user = user
    row.at = at
    row.note = note
    await session.flush()
    return row


async def alert_message(session: AsyncSession, alert_group_id: int) -> SlackMessage | None:
    return (
        await session.scalars(
            select(SlackMessage).where(SlackMessage.key == f"alert-group:{alert_group_id}")
        )
    ).first()


async def alert_data(
    session: AsyncSession, group: AlertGroup
) -> tuple[list[tuple[dict[str, str], dict[str, str]]], dict[str, str], dict[str, str]]:
    """The group's alerts as (labels, annotations), plus the labels and annotations that all
    of them share (what templates are filled from: a value that differs between the
    alerts of a group is ambiguous, so it is treated as missing)."""
    rows = (
        await session.scalars(
            select(Alert).where(Alert.group_id == group.id).order_by(Alert.status, Alert.id)
        )
    ).all()
    alerts = [(_strings(row.labels), _strings(row.annotations)) for row in rows]
    labels = {**_strings(group.group_labels), **_strings(group.common_labels)}
    annotations = _strings(group.common_annotations)
    if alerts:
        labels = {**_shared([a[0] for a in alerts]), **labels}
        annotations = {**_shared([a[1] for a in alerts]), **annotations}
    return alerts, labels, annotations


def _strings(data: object) -> dict[str, str]:
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}


def _shared(items: list[dict[str, str]]) -> dict[str, str]:
    first, *rest = items
    return {k: v for k, v in first.items() if all(other.get(k) == v for other in rest)}

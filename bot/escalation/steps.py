"""Escalation steps as rows, and arming the timer wheel once they are committed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from bot.escalation.models import EscalationStep
from bot.storage.models import AlertGroup

Arm = Callable[[datetime], None]


def after_commit(session: AsyncSession, due: datetime, arm: Arm) -> None:
    """Arm the timer for `due` once the transaction that planned it has committed
    (armed earlier, the engine could look before the row is visible and miss it)."""
    pending: list[datetime] | None = session.info.get("escalation_due")
    if pending is None:
        pending = session.info["escalation_due"] = []
        collected = pending

        def fire(_session: Any) -> None:
            session.info.pop("escalation_due", None)
            if collected:
                arm(min(collected))

        def forget(_session: Any) -> None:
            session.info.pop("escalation_due", None)

        event.listen(session.sync_session, "after_commit", fire, once=True)
        event.listen(session.sync_session, "after_rollback", forget, once=True)
    pending.append(due)


def new_step(
    *,
    group: AlertGroup | None,
    channel: str,
    priority: str,
    kind: str,
    due: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
) -> EscalationStep:
    return EscalationStep(
        group_id=group.id if group is not None else None,
        channel=channel,
        priority=priority,
        kind=kind,
        due_at=due,
        state="pending",
        payload=payload or {},
        created_at=now,
    )

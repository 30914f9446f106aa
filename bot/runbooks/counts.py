"""Runbook figures for /metrics (defined in bot/metrics.py): checklists opened, what became
of each step, and how long steps that change things wait for their approval.

The use cases count where they decide, inside their transaction; the figure moves once
that transaction commits, so a click whose transaction rolled back (it changed nothing)
counts nothing. Label values come from the step registry, never from alert data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from alerts.runbooks import Step
from bot.metrics import Metrics
from bot.runbooks.approval_request import StepApproval
from commands.approval import Outcome

NO_ACTION = "none"
"""The `action` of a step without one (read, then Done or Skip by hand)."""
UNKNOWN_ACTION = "unknown"
"""The `action` of a refused click whose step the loaded runbooks do not have."""

# What became of a step's approval request, by the status a vote or the expiry sweep set.
_SETTLED = {
    Outcome.APPROVED: "approved",
    Outcome.REJECTED: "rejected",
    Outcome.EXPIRED: "expired",
}
_PENDING = "runbook_counts"


def action_of(step: Step | None) -> str:
    if step is None:
        return UNKNOWN_ACTION
    return step.action.type if step.action is not None else NO_ACTION


class RunbookCounts:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def opened(self, session: AsyncSession) -> None:
        _on_commit(session, self._metrics.runbook_checklists_opened.inc)

    def step(self, session: AsyncSession, action: str, outcome: str) -> None:
        """`outcome`: done, skipped, succeeded, failed, refused or not_allowed."""
        _on_commit(session, self._metrics.runbook_steps.labels(action, outcome).inc)

    def requested(self, session: AsyncSession, action: str) -> None:
        _on_commit(session, self._metrics.runbook_approvals.labels(action, "requested").inc)

    def moved(
        self, session: AsyncSession, before: str, approval: StepApproval, now: datetime
    ) -> None:
        """An approval request went from status `before` to `approval.status` at `now`:
        counted when that settles it (approved, rejected, expired); a quorum also records
        how long the request waited for it."""
        outcome = _SETTLED.get(approval.status)
        if outcome is None or before == approval.status.value:
            return
        action = approval.step.action_type
        _on_commit(session, self._metrics.runbook_approvals.labels(action, outcome).inc)
        if approval.status is Outcome.APPROVED:
            waited = (now - approval.created_at).total_seconds()
            wait = self._metrics.runbook_approval_wait.labels(action)
            _on_commit(session, lambda: wait.observe(waited))


def _on_commit(session: AsyncSession, count: Callable[[], None]) -> None:
    pending: list[Callable[[], None]] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = []
        event.listen(session.sync_session, "after_commit", _count_pending)
        event.listen(session.sync_session, "after_rollback", _forget_pending)
    pending.append(count)


def _count_pending(session: Session) -> None:
    for count in session.info.pop(_PENDING, []):
        count()


def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)

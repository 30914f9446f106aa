"""Reading and writing operations' requests, operations and locks.

Every function takes the caller's session, so a state change, its audit event and its
Slack message (outbox row) commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.approvals.models import OPERATION, ApprovalRequestRow
from bot.approvals.store import load_row
from bot.clock import Clock
from bot.operations.models import DryRunTarget, OperationLock, OperationRow
from bot.storage.models import Alert, AlertGroup
from commands.approval import ApprovalRequest
from commands.plan import Baseline, OperationPlan
from commands.targets import Target

BLOCKING_PRIORITIES = ("P0", "P1")
ACTIVE = ("running", "baking", "bake_failed")
"""Operation states that hold the target's lock."""
PREEMPTIBLE = ("shift",)
"""What an approved rollback cancels: traffic moves (and their bakes). A deploy leaves
traffic alone, and a rollback in flight is never cancelled by another one."""


async def add_request(
    session: AsyncSession, request: ApprovalRequest, channel: str, now: datetime
) -> ApprovalRequestRow:
    row = ApprovalRequestRow(
        id=request.id,
        kind=OPERATION,
        service=request.target.service,
        environment=request.target.environment,
        channel=channel,
        status=request.status.value,
        data=request.to_dict(),
        created_at=request.created_at,
        expires_at=request.expires_at,
        updated_at=now,
    )
    session.add(row)
    return row


async def load_request(
    session: AsyncSession, request_id: str, *, for_update: bool = False
) -> tuple[ApprovalRequestRow, ApprovalRequest] | None:
    """An operation's request; None when there is none, or it is of another kind."""
    row = await load_row(session, request_id, for_update=for_update)
    if row is None or row.kind != OPERATION:
        return None
    return row, ApprovalRequest.from_dict(row.data)


async def try_lock(session: AsyncSession, target: Target, request_id: str, now: datetime) -> bool:
    """Take the target's lock; False when another operation holds it."""
    held = await session.get(OperationLock, (target.service, target.environment))
    if held is not None:
        return held.request_id == request_id
    try:
        async with session.begin_nested():
            session.add(
                OperationLock(
                    service=target.service,
                    environment=target.environment,
                    request_id=request_id,
                    acquired_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


async def lock_holder(
    session: AsyncSession, target: Target, *, for_update: bool = False
) -> OperationRow | None:
    """The operation that holds `target`'s lock now, if one does.

    With `for_update` the lock row and the operation row stay locked until the caller's
    transaction ends (PostgreSQL), so replicas decide one at a time who runs."""
    key = (target.service, target.environment)
    held = await session.get(OperationLock, key, with_for_update=for_update)
    if held is None:
        return None
    query = (
        select(OperationRow)
        .where(OperationRow.request_id == held.request_id, OperationRow.status.in_(ACTIVE))
        .order_by(OperationRow.id.desc())
        .limit(1)
    )
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def hand_over_lock(
    session: AsyncSession, target: Target, request_id: str, now: datetime
) -> None:
    """Give `target`'s lock to `request_id` (a rollback preempting the holder)."""
    held = await session.get(OperationLock, (target.service, target.environment))
    if held is None:
        session.add(
            OperationLock(
                service=target.service,
                environment=target.environment,
                request_id=request_id,
                acquired_at=now,
            )
        )
        return
    held.request_id = request_id
    held.acquired_at = now


async def unlock(session: AsyncSession, target: Target, request_id: str) -> None:
    await session.execute(
        delete(OperationLock).where(
            OperationLock.service == target.service,
            OperationLock.environment == target.environment,
            OperationLock.request_id == request_id,
        )
    )


async def last_baseline(session: AsyncSession, target: Target) -> Baseline | None:
    """The baseline of the last plan that ran for `target` (see commands.plan)."""
    row = (
        await session.scalars(
            select(OperationRow)
            .where(OperationRow.service == target.service)
            .where(OperationRow.environment == target.environment)
            .order_by(OperationRow.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return OperationPlan.from_dict(row.plan).baseline


@dataclass(frozen=True)
class FiringAlert:
    name: str
    priority: str
    summary: str

    @property
    def line(self) -> str:
        return f"{self.priority} {self.name}" + (f": {self.summary}" if self.summary else "")


async def firing_alerts(session: AsyncSession, service: str) -> list[FiringAlert]:
    """Firing alerts labelled service=<service>, most urgent first."""
    rows = (
        await session.execute(
            select(Alert, AlertGroup.priority)
            .join(AlertGroup, Alert.group_id == AlertGroup.id)
            .where(Alert.status == "firing", AlertGroup.status == "firing")
            .order_by(AlertGroup.priority, Alert.id)
        )
    ).all()
    found = []
    for alert, priority in rows:
        if alert.labels.get("service") == service:
            summary = str(alert.annotations.get("summary", ""))
            found.append(FiringAlert(alert.alertname, priority, summary))
    return found


class SqlDryRunStore:
    """Where the dryrun backend keeps its pretend platform: the bot's database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def load(self, target: Target) -> dict[str, Any] | None:
        async with self._sessions() as session:
            row = await session.get(DryRunTarget, (target.service, target.environment))
            return dict(row.state) if row is not None else None

    async def save(self, target: Target, state: dict[str, Any]) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(DryRunTarget, (target.service, target.environment))
            if row is None:
                session.add(
                    DryRunTarget(
                        service=target.service,
                        environment=target.environment,
                        state=state,
                        updated_at=self._clock.now(),
                    )
                )
            else:
                row.state = state
                row.updated_at = self._clock.now()

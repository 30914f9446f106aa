"""The bake watch: a P0/P1 alert for a service whose shift is baking ends the bake.

It hears alert groups inside intake's transaction (bot.alerts.events), so it only marks
the operation `bake_failed` there; the rollback itself talks to the platform and runs
after the commit, from the operations sweep, which `wake` nudges.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.events import Change
from bot.operations.models import OperationRow
from bot.operations.store import BLOCKING_PRIORITIES
from bot.storage.models import Alert, AlertGroup

WATCHED: frozenset[Change] = frozenset({"opened", "refired", "updated"})


class BakeWatch:
    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    async def group_changed(
        self, session: AsyncSession, group: AlertGroup, change: Change, now: datetime, actor: str
    ) -> None:
        if change not in WATCHED or group.status != "firing":
            return
        if group.priority not in BLOCKING_PRIORITIES:
            return
        alerts = (
            await session.scalars(
                select(Alert).where(Alert.group_id == group.id, Alert.status == "firing")
            )
        ).all()
        by_service: dict[str, Alert] = {}
        for alert in alerts:
            service = alert.labels.get("service")
            if isinstance(service, str):
                by_service.setdefault(service, alert)
        if not by_service:
            return
        baking = (
            await session.scalars(
                select(OperationRow).where(
                    OperationRow.status == "baking", OperationRow.service.in_(list(by_service))
                )
            )
        ).all()
        marked = False
        for operation in baking:
            alert = by_service[operation.service]
            environment = alert.labels.get("environment") or alert.labels.get("env")
            if environment and environment != operation.environment:
                continue
            if operation.bake_until is not None and operation.bake_until < now:
                continue  # baked already; the sweep just has not finished it yet
            operation.status = "bake_failed"
            operation.bake_alert = f"{group.priority} {alert.alertname}"
            marked = True
        if marked:
            self._wake()

"""Listeners told about every alert-group change, inside the transaction that makes it.

Escalation timers, the bake watch of a running release and runbook linking all react to
the same few changes of an alert group. They register here instead of being called from
intake by name, so intake stays the same as features are added, and because they run in
the same transaction, a listener's rows commit (or roll back) with the change itself.

Listeners run before the group's message is rendered, so they may set fields the message
shows (a runbook link, "paged PagerDuty").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AlertGroup

# "unacknowledged": nobody holds it any more (PagerDuty unacknowledged or reopened it).
# "reported": firing alerts Alertmanager had left out (silenced, inhibited) are reported
# again (bot/alerts/notification.py); sent after "updated" for the same notification.
Change = Literal[
    "opened", "updated", "resolved", "refired", "acknowledged", "unacknowledged", "reported"
]


class GroupListener(Protocol):
    async def group_changed(
        self, session: AsyncSession, group: AlertGroup, change: Change, now: datetime, actor: str
    ) -> None:
        """React to `change`; `actor` is a Slack user id, or "system" for Alertmanager."""
        ...


async def notify(
    listeners: Sequence[GroupListener],
    session: AsyncSession,
    group: AlertGroup,
    change: Change,
    now: datetime,
    actor: str = "system",
) -> None:
    for listener in listeners:
        await listener.group_changed(session, group, change, now, actor)

"""What a finished operation tells the rest of the bot: which change reached the platform.

The operations feature knows nothing of PagerDuty; the service hands it a `ChangeListener`
(PagerDuty's change events, bot/pagerduty/changes.py) that is called inside the
transaction that records the operation's end, so the change is queued durably with it:
an operation that finished is never without its change event, even after a crash.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from commands.changes import FinishedChange

ChangeListener = Callable[[AsyncSession, FinishedChange], Awaitable[None]]


async def no_listener(_session: AsyncSession, _change: FinishedChange) -> None:
    return None


__all__ = ["ChangeListener", "FinishedChange", "no_listener"]

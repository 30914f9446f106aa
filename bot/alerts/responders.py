"""Who may act on an alert group: its responders.

The alert buttons (Acknowledge, Silence 1h, the storm summary's) and the runbook
checklists (Run, Done, Skip) answer the same question the same way, so it is one of
bot.alerts' public modules, beside the group itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.config import AlertsConfig
from alerts.policy import match_route
from bot.storage.models import AlertGroup


async def may_respond(
    sessions: async_sessionmaker[AsyncSession],
    config: AlertsConfig,
    *,
    group_id: int,
    user: str,
    members: Callable[[str], Awaitable[frozenset[str]]],
) -> bool:
    """Whether `user` may Acknowledge or Silence this group: its route's `responders`, else
    `alerts.responders`, else anyone. Checked on every click, not when the message was
    posted, since who is on a team changes while alerts fire."""
    async with sessions() as session:
        group = await session.get(AlertGroup, group_id)
        if group is None:
            return True  # the use case answers "unknown alert" itself
        labels = {**group.group_labels, **group.common_labels}
    route = match_route(labels, config)
    principals = route.responders if route.responders is not None else config.responders
    if principals is None or user in principals:
        return principals is None or user in principals
    for principal in principals:
        if principal.startswith("S") and user in await members(principal):
            return True
    return False

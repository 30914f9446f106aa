"""Who may act on an alert group: its responders, with the reads the decision needs.

The alert buttons (Acknowledge, Silence 1h, the storm summary's) and the runbook
checklists (Run, Done, Skip) answer the same question the same way, so it is one of
bot.alerts' public modules, beside the group itself. The rule is alerts/responders.py's;
here the group's labels are read and Slack is asked about user groups, only when the
rule needs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.config import AlertsConfig
from alerts.responders import decision_for
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
    decision = decision_for(labels, config, user)
    for user_group in decision.ask:
        if user in await members(user_group):
            return True
    return decision.allowed

"""“Show all alerts”: a large group's alerts, posted page by page into its thread.

A message can list only a few alerts (Slack's Block Kit limits); the rest stay in the
database and are shown on request, one page per click, so that a group of thousands
never floods the thread or the channel's rate limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import messages as m
from alerts.render import render_alert_page
from bot.alerts.groups import alert_counts, alert_views, reply
from bot.clock import Clock
from bot.storage.models import AlertGroup

PAGE_SIZE = 100
# Pages are a convenience: behind every alert message of the channel.
PAGE_PRIORITY = 3
_VALUE = re.compile(r"([0-9]{1,18}):([0-9]{1,9})")


@dataclass(frozen=True)
class PageRequest:
    group_id: int
    offset: int


def parse_page_value(value: str) -> PageRequest | None:
    """Button values are untrusted input: "<group id>:<offset>", plain ASCII digits."""
    found = _VALUE.fullmatch(value)
    if found is None:
        return None
    return PageRequest(int(found.group(1)), int(found.group(2)))


async def post_page(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, request: PageRequest
) -> str | None:
    """Queue one page as a thread reply; returns what to tell the clicker when it cannot."""
    now = clock.now()
    async with sessions.begin() as session:
        group = await session.get(AlertGroup, request.group_id)
        if group is None:
            return m.UNKNOWN_GROUP
        total, _ = await alert_counts(session, group.id)
        alerts = await alert_views(session, group.id, offset=request.offset, limit=PAGE_SIZE)
        page = render_alert_page(group.id, alerts, offset=request.offset, total=total, now=now)
        posted = await reply(
            session, group, page["text"], now, blocks=page["blocks"], priority=PAGE_PRIORITY
        )
    return None if posted else m.UNKNOWN_GROUP

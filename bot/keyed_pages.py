"""What a feature may ask of PagerDuty's queue of pages that belong to no alert group (a
late heartbeat, an incident declared by hand, "Page them" from /oncall): the interface,
kept here beside the features rather than in bot/pagerduty, so that they page without
importing that feature. bot/pagerduty/paging.py implements it; the service wires it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class Triggers(Protocol):
    def trigger_keyed(
        self,
        session: AsyncSession,
        *,
        dedup_key: str,
        summary: str,
        priority: str,
        subject: str,
        details: dict[str, Any],
        now: datetime,
    ) -> None:
        """Queue a trigger under `dedup_key`, in the caller's transaction."""
        ...


class KeyedPager(Triggers, Protocol):
    async def resolve_keyed(
        self, session: AsyncSession, dedup_key: str, now: datetime, *, subject: str
    ) -> int:
        """Resolve what was triggered under `dedup_key` (a trigger still queued is
        cancelled instead); how many resolve events were queued."""
        ...

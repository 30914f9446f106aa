"""PagerDuty as the rest of the bot reaches it: the page queue, its sender, the REST client.

Escalation decides when to page and hands this object nothing but its decisions (it
knows it as its `Pager`, bot/escalation/engine.py), so the escalation feature imports
nothing from this one; the incident buttons act through `incidents`. Rotated keys
(SIGHUP) reach the sender and the REST client here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.pagerduty.incidents import IncidentsClient
from bot.clock import Clock
from bot.config import Config
from bot.metrics import Metrics
from bot.pagerduty import keyed_pages, pages
from bot.pagerduty.changes import ChangeEvents
from bot.pagerduty.models import PagerDutyIncident
from bot.pagerduty.sender import PageSender
from bot.settings import Settings
from bot.storage.models import AlertGroup


class PagerDuty:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        settings: Settings,
        clock: Clock,
        metrics: Metrics,
        *,
        on_outbox: Callable[[], None],
    ) -> None:
        self._config = config
        self._settings = settings
        self._sessions = sessions
        self.sender = PageSender(sessions, config, settings, clock, metrics, on_outbox=on_outbox)
        # Change events of the operations the bot ran, delivered beside the pages.
        self.changes = ChangeEvents(sessions, config, settings, clock)
        self.incidents: IncidentsClient | None = None

    async def trigger(
        self, session: AsyncSession, group: AlertGroup, now: datetime
    ) -> tuple[int, str]:
        """Queue the group's trigger event(s); returns how many, and the route whose key
        pages it."""
        count = await pages.trigger(session, group, self._config, now)
        return count, pages.route_ref(group, self._config)

    async def follow_up(
        self, session: AsyncSession, group: AlertGroup, action: str, now: datetime, *, send: bool
    ) -> int:
        return await pages.follow_up(session, group, action, now, send=send)

    async def reopen(self, session: AsyncSession, group: AlertGroup) -> None:
        await pages.reopen(session, group)

    def pages_enabled(self) -> bool:
        """Whether a page with no route of its own can go (PAGERDUTY_ROUTING_KEY is set)."""
        key = self._settings.pagerduty_routing_key
        return key is not None and bool(key.get_secret_value())

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
        """Queue a page of no alert group (a late heartbeat)."""
        keyed_pages.trigger(
            session,
            dedup_key=dedup_key,
            summary=summary,
            priority=priority,
            subject=subject,
            details=details,
            now=now,
        )

    async def resolve_keyed(
        self, session: AsyncSession, dedup_key: str, now: datetime, *, subject: str
    ) -> int:
        return await keyed_pages.resolve(session, dedup_key, now, subject=subject)

    async def open_incidents(self, service_id: str | None) -> int:
        """PagerDuty incidents not resolved, as its webhooks told us (of one service)."""
        query = select(func.count()).select_from(PagerDutyIncident)
        query = query.where(PagerDutyIncident.status.in_(("triggered", "acknowledged")))
        if service_id is not None:
            query = query.where(PagerDutyIncident.service_id == service_id)
        async with self._sessions() as session:
            return int(await session.scalar(query) or 0)

    async def recover(self) -> None:
        await self.sender.recover()
        await self.changes.recover()

    async def drain(self) -> int:
        pages = await self.sender.drain()
        return pages + await self.changes.drain()

    def start(self, http: aiohttp.ClientSession) -> None:
        self.sender.start(http)
        self.changes.start(http)
        token = self._settings.pagerduty_api_token
        if token is not None and token.get_secret_value():
            self.incidents = IncidentsClient(
                http, self._settings.pagerduty_api_url, token=token.get_secret_value()
            )

    def use_settings(self, settings: Settings) -> None:
        """Rotated PagerDuty keys (SIGHUP): pages read the routing key when they are sent."""
        self._settings = settings
        self.sender.use_settings(settings)
        self.changes.use_settings(settings)
        token = settings.pagerduty_api_token
        if self.incidents is not None and token is not None and token.get_secret_value():
            self.incidents.use_token(token.get_secret_value())

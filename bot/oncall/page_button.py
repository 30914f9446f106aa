""" "Page them" on a /oncall answer: a responder pages the people on call when nothing is open.

The button is offered only to a responder (`alerts.responders`, else anyone) and only
when no PagerDuty incident the bot knows of is open for that service (for a schedule: at
all), so that it is the way to wake someone for a problem no alert caught, not a second
page for one already paging. Who may click is checked again on the click. The page is a
trigger through the durable page queue (PAGERDUTY_ROUTING_KEY), keyed by target, person
and minute, so a double click pages once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.config import AlertsConfig
from alerts.responders import decision_for
from bot.audit import trail
from bot.clock import Clock
from bot.keyed_pages import Triggers
from bot.oncall.reader import OnCallReader, Target
from bot.slack.answers import Ack, SlackAnswers

PAGED = "Paging the on-call for {name} through PagerDuty."
NOT_ALLOWED = "Only responders may page from here."
GONE = "That button is not valid any more."


class OnCallPager(Triggers, Protocol):
    """The page queue (bot/pagerduty/paging.py), and what it knows of open incidents."""

    async def open_incidents(self, service_id: str | None) -> int: ...


class PageButton:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        alerts: AlertsConfig,
        clock: Clock,
        reader: OnCallReader,
        *,
        pager: OnCallPager,
        members: Callable[[str], Awaitable[frozenset[str]]],
        answers: SlackAnswers,
        on_pages: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._alerts = alerts
        self._clock = clock
        self._reader = reader
        self._pager = pager
        self._members = members
        self._answers = answers
        self._on_pages = on_pages

    async def responder(self, user: str) -> bool:
        decision = decision_for({}, self._alerts, user)
        for group in decision.ask:
            if user in await self._members(group):
                return True
        return decision.allowed

    async def offer(self, target: Target, user: str) -> str | None:
        """The button's value when this asker may page for `target` now, else None."""
        if not await self.responder(user):
            return None
        if await self._pager.open_incidents(target.id if target.kind == "service" else None):
            return None
        return target.title

    async def on_page(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        user = str((body.get("user") or {}).get("id", ""))
        name = str((body.get("actions") or [{}])[0].get("value", ""))[:80]
        target = self._reader.target(name)
        if target is None:
            await self._answers.ephemeral(body, GONE)
            return
        if not await self.responder(user):
            await self._answers.refuse(
                body,
                NOT_ALLOWED,
                action="oncall.page.refused",
                subject=target.key,
                reason="not a responder",
            )
            return
        now = self._clock.now()
        async with self._sessions.begin() as session:
            self._pager.trigger_keyed(
                session,
                dedup_key=f"chatops:oncall:{target.key}:{user}:{int(now.timestamp()) // 60}",
                summary=f"[P1] Paged from Slack by {user} for the on-call of {target.title}",
                priority="P1",
                subject=target.key,
                details={"requested_by": user, "oncall_for": target.title},
                now=now,
            )
            trail.record(
                session, at=now, actor=user, action="oncall.paged", subject=target.key, via="slack"
            )
        self._on_pages()
        await self._answers.ephemeral(body, PAGED.format(name=target.title))

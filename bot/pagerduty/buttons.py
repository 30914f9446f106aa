"""Acknowledge / Resolve on messages for PagerDuty incidents that are not our pages.

The click acts in PagerDuty as the person who clicked (REST API `From` header), so a
Slack user needs a `pagerduty.users` mapping; without one they are told how to add it.
PagerDuty then sends its webhook, which updates the message again with the same state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.pagerduty import PagerError
from actions.pagerduty.incidents import Incident, IncidentsClient, validate_incident_id
from alerts import messages as m
from alerts.slack_text import escape
from bot.audit import trail
from bot.clock import Clock
from bot.pagerduty.incident_events import incident_key, post_incident
from bot.pagerduty.models import PagerDutyIncident
from bot.slack.answers import Ack, SlackAnswers
from bot.slack.clicks import clicked_on

log = logging.getLogger(__name__)


class IncidentButtons:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        users: Mapping[str, str],
        *,
        incidents: Callable[[], IncidentsClient | None],
        answers: SlackAnswers,
    ) -> None:
        """`users`: Slack user -> PagerDuty email (`pagerduty.users`); `incidents` is read
        at each click (the REST client exists once the service has started)."""
        self._sessions = sessions
        self._clock = clock
        self._users = users
        self._incidents = incidents
        self._answers = answers

    async def on_ack(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        await self.act(body, "acknowledge")

    async def on_resolve(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        await self.act(body, "resolve")

    async def act(self, body: dict[str, Any], what: str) -> None:
        actions = body.get("actions") or [{}]
        incident_id = str(actions[0].get("value", ""))
        user = str((body.get("user") or {}).get("id", ""))
        try:
            validate_incident_id(incident_id)
        except ValueError:
            await self._answers.ephemeral(body, "That button is not valid any more.")
            return
        if not await clicked_on(self._sessions, body, incident_key(incident_id)):
            # Only incidents the bot posted, from their own message: a value naming any
            # other incident would act in PagerDuty on something nobody here was shown.
            await self._answers.refuse(
                body,
                m.NOT_FROM_ITS_MESSAGE,
                action=f"pagerduty.{what}.refused",
                subject=incident_key(incident_id),
                reason="button not from the incident's message",
            )
            return
        incident = await self._in_pagerduty(body, incident_id, user, what)
        if incident is not None:
            await self._record(incident_id, incident.status, user, what)
            self._answers.wake_outbox()

    async def _in_pagerduty(
        self, body: dict[str, Any], incident_id: str, user: str, what: str
    ) -> Incident | None:
        """The change made in PagerDuty as the clicker; None after telling them why not."""
        email = self._users.get(user)
        if not email:
            await self._answers.ephemeral(body, m.PD_NO_USER.format(user=user))
            return None
        client = self._incidents()
        if client is None:
            await self._answers.ephemeral(body, m.PD_NOT_CONFIGURED)
            return None
        try:
            if what == "acknowledge":
                return await client.acknowledge(incident_id, email)
            return await client.resolve(incident_id, email)
        except PagerError as exc:
            await self._answers.ephemeral(
                body, m.PD_ACTION_FAILED.format(error=escape(exc.message))
            )
            return None

    async def _record(self, incident_id: str, status: str, user: str, what: str) -> None:
        """The incident's message shows the new state at once; PagerDuty's webhook follows."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            row = (
                await session.scalars(
                    select(PagerDutyIncident).where(PagerDutyIncident.incident_id == incident_id)
                )
            ).first()
            if row is not None:
                row.status = status
                who = f"<@{user}>"
                row.note = (m.PD_ACKED if what == "acknowledge" else m.PD_RESOLVED).format(who=who)
                row.updated_at = now
                if row.channel:
                    await post_incident(session, row, now)
            trail.record(
                session,
                at=now,
                actor=user,
                action=f"pagerduty.{what}d" if what == "resolve" else "pagerduty.acknowledged",
                subject=incident_key(incident_id),
                via="slack",
            )

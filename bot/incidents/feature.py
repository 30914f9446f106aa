"""The incident feature as the Service builds it: declaring, changing, and the timer pass
that takes up created channels, reminds leads and archives resolved channels.

The timer pass runs in the timer holder only (an escalation timer job), from the
database: what is due is decided by the rows, with the injected clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.config import AlertsConfig
from alerts.durations import format_duration
from alerts.responders import decision_for
from bot.alerts.events import Change as GroupChange
from bot.alerts.groups import message_key, refresh_message
from bot.clock import Clock
from bot.incidents import changes, declaring, pagerduty, slack_calls, store, timeline
from bot.incidents.models import Incident
from bot.keyed_pages import KeyedPager
from bot.storage.models import AlertGroup
from incidents import messages as m
from incidents.commands import Change, Declare, Severity
from incidents.config import IncidentsConfig

log = logging.getLogger(__name__)

OPEN_FOLLOWED = 50  # open incidents whose services' changes each pass looks for


class Directory(Protocol):
    async def members(self, group: str) -> frozenset[str]: ...


IsPerson = Callable[[str], Awaitable[bool]]


class Pager(KeyedPager, Protocol):
    """PagerDuty's queue of pages with no alert group, for an incident declared by hand:
    nothing else pages for it."""

    def pages_enabled(self) -> bool: ...


def page_key(incident_id: int) -> str:
    return f"chatops:incident:{incident_id}"


class Incidents:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: IncidentsConfig,
        alerts: AlertsConfig,
        clock: Clock,
        *,
        directory: Directory,
        is_person: IsPerson,
        wake_outbox: Callable[[], None],
        follow: pagerduty.Follow | None = None,
        pager: Pager | None = None,
    ) -> None:
        """`pager` pages PagerDuty for a P0/P1 declared by hand (one from an alert has the
        alert's page already)."""
        self.sessions = sessions
        self.config = config
        self.alerts = alerts
        self.clock = clock
        self._directory = directory
        self.is_person = is_person
        self.wake_outbox = wake_outbox
        self._follow = follow
        self._pager = pager
        # Changes shown on each open incident's summary, as this process last rendered it.
        self._changes_seen: dict[int, tuple[int, str | None]] = {}
        self.where = changes.Where(
            declaring.broadcast_channel(config, alerts), config.update_every, config.archive_after
        )

    # --- alert groups -------------------------------------------------------------
    async def group_changed(
        self,
        session: AsyncSession,
        group: AlertGroup,
        change: GroupChange,
        now: datetime,
        actor: str,
    ) -> None:
        if change == "opened" and group.priority in self.config.auto_declare:
            await declaring.declare(
                session,
                self.config,
                title=declaring.alert_title(group),
                severity=self.severity_of(group),
                user=declaring.SYSTEM,
                now=now,
                group=group,
            )
            return
        incident = await store.incident_of_group(session, group.id)
        if incident is None:
            return
        if change == "acknowledged" and actor != declaring.SYSTEM:
            if not incident.lead:
                incident.lead = actor
            await slack_calls.invite(session, incident.channel_id, [actor], now)
        await slack_calls.refresh_summary(
            session, await timeline.full_view(session, incident, now), now
        )

    async def members(self, group: str) -> frozenset[str]:
        return await self._directory.members(group)

    @staticmethod
    def title_of(group: AlertGroup) -> str:
        return declaring.alert_title(group)

    @staticmethod
    def severity_of(group: AlertGroup) -> Severity:
        return "P0" if group.priority == "P0" else "P1" if group.priority == "P1" else "P2"

    # --- use cases ----------------------------------------------------------------
    async def declare(self, request: Declare, user: str, group_id: int | None = None) -> str:
        """Declare; the answer for the person who asked."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            group = None
            if group_id is not None:
                group = await session.get(AlertGroup, group_id, with_for_update=True)
                if group is None:
                    return "That alert is not known any more."
            declared = await declaring.declare(
                session,
                self.config,
                title=request.title,
                severity=request.severity,
                user=user,
                now=now,
                group=group,
            )
            if group is not None and declared.new:
                # Its message loses the button and names the incident.
                await refresh_message(session, group, self.alerts, now)
            elif declared.new:
                self._page_by_hand(session, declared.incident, now)
        self.wake_outbox()
        incident = declared.incident
        if declared.new:
            return m.DECLARED.format(id=incident.id)
        if incident.channel_id:
            return m.ALREADY_DECLARED.format(id=incident.id, channel=incident.channel_id)
        return m.ALREADY_DECLARED_NO_CHANNEL.format(id=incident.id)

    def _page_by_hand(self, session: AsyncSession, incident: Incident, now: datetime) -> None:
        """A P0/P1 declared with no alert behind it pages like a P0/P1 alert would: queued
        in the declaring transaction, under the incident's own dedup key."""
        if incident.severity not in ("P0", "P1") or self._pager is None:
            return
        if not self._pager.pages_enabled():
            return
        self._pager.trigger_keyed(
            session,
            dedup_key=page_key(incident.id),
            summary=f"Incident {incident.id} ({incident.severity}): {incident.title}",
            priority=incident.severity,
            subject=f"incident:{incident.id}",
            details={"declared_by": incident.declared_by, "incident": incident.id},
            now=now,
        )

    async def may_change(self, session: AsyncSession, incident: Incident, user: str) -> bool:
        """Its lead, `incidents.managers` and its alert groups' responders. Unset, the
        managers are whoever may acknowledge its alerts: anyone, for one without alerts."""
        if user == incident.lead:
            return True
        managers = self.config.managers
        if managers is not None and await self._member(user, managers):
            return True
        groups = await store.linked_groups(session, incident.id)
        if not groups:
            return managers is None
        for group in groups:
            decision = decision_for(
                {**group.group_labels, **group.common_labels}, self.alerts, user
            )
            if decision.allowed or await self._member(user, decision.ask):
                return True
        return False

    async def _member(self, user: str, principals: Iterable[str]) -> bool:
        for principal in principals:
            if principal == user:
                return True
            if principal.startswith("S") and user in await self._directory.members(principal):
                return True
        return False

    async def change(self, request: Change, user: str, channel: str) -> str:
        """Apply a change; the answer for the person who asked (nothing changed on a
        refusal)."""
        if request.verb == "lead" and not await self.is_person(request.value):
            return m.NOT_A_USER.format(user=request.value)
        now = self.clock.now()
        async with self.sessions.begin() as session:
            incident = await self._find(session, request, channel)
            if isinstance(incident, str):
                return incident
            if not await self.may_change(session, incident, user):
                return m.NOT_ALLOWED.format(id=incident.id)
            if incident.status == "resolved":
                return m.ALREADY_RESOLVED.format(id=incident.id)
            if not incident.channel_id:
                return m.ALREADY_DECLARED_NO_CHANNEL.format(id=incident.id)
            await changes.apply(session, incident, request, user=user, now=now, where=self.where)
            if request.verb == "resolve" and self._pager is not None:
                key = page_key(incident.id)
                await self._pager.resolve_keyed(
                    session, key, now, subject=f"incident:{incident.id}"
                )
            groups = [g.id for g in await store.linked_groups(session, incident.id)]
            found = await pagerduty.linked(session, groups)
        self.wake_outbox()
        problems = await self._in_pagerduty(request, user, found)
        return m.PAGERDUTY_PROBLEMS.format(problems="; ".join(problems)) if problems else m.DONE

    async def _in_pagerduty(
        self, request: Change, user: str, found: list[pagerduty.Linked]
    ) -> list[str]:
        if self._follow is None or not found:
            return []
        if request.verb == "update":
            return await self._follow.note(found, user, request.value)
        if request.verb == "resolve":
            return await self._follow.resolve(found, user)
        return []

    async def _find(self, session: AsyncSession, request: Change, channel: str) -> Incident | str:
        if request.incident_id is None:
            found = await store.by_channel(session, channel)
            return found if found is not None else m.NEEDS_ID.format(verb=request.verb)
        found = await session.get(Incident, request.incident_id, with_for_update=True)
        return found if found is not None else m.UNKNOWN_ID.format(id=request.incident_id)

    # --- the timer pass -----------------------------------------------------------
    async def tick(self) -> None:
        """Take up created channels, remind leads, archive; one transaction each."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            for incident, channel in await slack_calls.created_channels(session):
                if await slack_calls.take_channel(session, incident, channel):
                    await self._channel_ready(session, incident, now)
        await self._remind(now)
        await self._archive(now)
        await self._follow_changes(now)
        self.wake_outbox()

    async def _follow_changes(self, now: datetime) -> None:
        """A deploy, shift or rollback of an open incident's service, and its alerts'
        PagerDuty incidents, show on its summary at the next pass: the other features do
        not know incidents, so this looks. PagerDuty resolving them all mitigates it."""
        async with self.sessions.begin() as session:
            open_ones = (
                await session.scalars(
                    select(Incident)
                    .where(Incident.status != "resolved", Incident.channel_id.is_not(None))
                    .order_by(Incident.id.desc())
                    .limit(OPEN_FOLLOWED)
                )
            ).all()
            for incident in open_ones:
                if incident.status in ("investigating", "identified"):
                    groups = [g.id for g in await store.linked_groups(session, incident.id)]
                    found = await pagerduty.linked(session, groups)
                    if found and all(i.status == "resolved" for i in found):
                        await changes.mitigated_in_pagerduty(
                            session, incident, now=now, where=self.where
                        )
                view = await timeline.full_view(session, incident, now)
                seen = (len(view.changes), view.pagerduty)
                if self._changes_seen.get(incident.id) != seen:
                    self._changes_seen[incident.id] = seen
                    await slack_calls.refresh_summary(session, view, now)

    async def _channel_ready(
        self, session: AsyncSession, incident: Incident, now: datetime
    ) -> None:
        groups = await store.linked_groups(session, incident.id)
        await slack_calls.channel_ready(
            session,
            await timeline.full_view(session, incident, now),
            invite=declaring.invitees(incident, groups, self.config, self.alerts),
            broadcast=self.where.broadcast,
            group_threads=[(g.channel, message_key(g)) for g in groups],
            lead_name=incident.lead or "none",
            now=now,
        )
        for group in groups:
            await refresh_message(session, group, self.alerts, now)  # now with the link

    async def _remind(self, now: datetime) -> None:
        async with self.sessions.begin() as session:
            due = (
                await session.scalars(
                    select(Incident)
                    .where(
                        Incident.remind_at <= now,
                        Incident.status != "resolved",
                        Incident.channel_id.is_not(None),
                    )
                    .order_by(Incident.remind_at)
                    .limit(50)
                    .with_for_update()
                )
            ).all()
            for incident in due:
                since = incident.last_update_at or incident.declared_at
                text = m.REMINDER.format(
                    lead=f"<@{incident.lead}>" if incident.lead else "Lead needed",
                    id=incident.id,
                    elapsed=format_duration(now - since),
                )
                await slack_calls.post(session, incident.channel_id or "", text, now)
                incident.remind_at = now + self.config.update_every

    async def _archive(self, now: datetime) -> None:
        async with self.sessions.begin() as session:
            due = (
                await session.scalars(
                    select(Incident)
                    .where(Incident.archive_at <= now, Incident.channel_id.is_not(None))
                    .limit(50)
                    .with_for_update()
                )
            ).all()
            for incident in due:
                await slack_calls.archive(session, incident.channel_id or "", now)
                incident.archive_at = None

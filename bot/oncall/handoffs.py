"""Handoffs: "On call for api is now @ada until Mon 09:00 (was @olu)", once per change.

Run by the timer holder among escalation's timer jobs: every minute, and at the moment a
handoff is due, each schedule of `oncall.schedules` is read from PagerDuty (its final
layer, so overrides are followed). The first level's people are compared with the ones
last announced (`oncall_snapshots`, row `handoff:<schedule id>`); a change is claimed by
an UPDATE conditioned on the previous announcement and its message queued in that same
transaction, so two replicas or a restart never post it twice. The first reading of a
schedule is recorded without a message: it is no handoff. `oncall.usergroups` is then set
to the people on call, under the row's lock, only when it differs from what was set last.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.pagerduty import PagerError
from actions.pagerduty.oncalls import OnCallsClient
from alerts.blocks import section
from bot.audit import trail
from bot.clock import Clock
from bot.config import Config
from bot.oncall.mentions import Mentions
from bot.oncall.models import OnCallSnapshot
from bot.oncall.reader import LOOKAHEAD
from bot.slack.outbox_queue import enqueue
from bot.slack.people import SlackPeople, UsergroupNotUpdated
from oncall import render
from oncall.levels import Level, Person, first_level, levels_at

log = logging.getLogger(__name__)

POLL_EVERY = timedelta(minutes=1)  # an override made in PagerDuty shows within a minute


def handoff_key(schedule_id: str) -> str:
    return f"handoff:{schedule_id}"


def _ids(people: Sequence[Person]) -> list[str]:
    return [p.pd_id or p.name for p in people]


class Handoffs:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        clock: Clock,
        client: Callable[[], OnCallsClient | None],
        *,
        mentions: Mentions,
        people: SlackPeople,
        on_outbox: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._client = client
        self._mentions = mentions
        self._people = people
        self._on_outbox = on_outbox
        self._next: datetime | None = None
        self._zones: dict[str, tzinfo] = {}

    async def due(self) -> None:
        """The timer job: poll when a minute has passed or a handoff is due."""
        if self._next is not None and self._clock.now() < self._next:
            return
        await self.poll()

    async def poll(self) -> int:
        """Read every schedule; how many handoffs were announced."""
        client = self._client()
        schedules = self._config.oncall.schedules
        now = self._clock.now()
        self._next = now + POLL_EVERY
        if client is None or not schedules:
            return 0
        announced = 0
        for name, schedule_id in schedules.items():
            try:
                blocks = await client.oncalls(
                    since=now, until=now + LOOKAHEAD, schedule_ids=[schedule_id]
                )
                zone = await self._zone(client, schedule_id)
            except (PagerError, ValueError) as exc:
                log.warning("handoffs: schedule %s not read: %s", schedule_id, exc)
                continue
            levels = await self._with_slack(levels_at(blocks, now))
            level = first_level(levels)
            if level is not None and level.until is not None and level.until < self._next:
                self._next = level.until  # poll again right at the handoff
            if await self._record(name, schedule_id, levels, level, zone, now):
                announced += 1
            await self._sync_usergroup(schedule_id, level.now if level else ())
        if announced:
            self._on_outbox()
        return announced

    async def _with_slack(self, levels: list[Level]) -> list[Level]:
        """The people with their Slack ids, stored so the alert path never looks them up."""

        async def found(people: Sequence[Person]) -> tuple[Person, ...]:
            return tuple([replace(p, slack=await self._slack(p)) for p in people])

        return [replace(lv, now=await found(lv.now), next=await found(lv.next)) for lv in levels]

    async def _slack(self, person: Person) -> str:
        return await self._mentions.slack_user(person) or ""

    async def _zone(self, client: OnCallsClient, schedule_id: str) -> tzinfo:
        """The schedule's own time zone, read once: handoff times as its rota says them."""
        if schedule_id not in self._zones:
            schedule = await client.schedule(schedule_id)
            try:
                self._zones[schedule_id] = ZoneInfo(schedule.time_zone or "UTC")
            except (ZoneInfoNotFoundError, ValueError):
                self._zones[schedule_id] = ZoneInfo("UTC")
        return self._zones[schedule_id]

    async def _record(
        self,
        name: str,
        schedule_id: str,
        levels: list[Level],
        level: Level | None,
        zone: tzinfo,
        now: datetime,
    ) -> bool:
        people = level.now if level else ()
        data = [lv.to_json() for lv in levels]
        key = handoff_key(schedule_id)
        async with self._sessions() as session:
            row = await session.get(OnCallSnapshot, key)
            previous = [Person.from_json(p) for p in (row.announced or [])] if row else []
            version = row.announced_at if row else None
        if row is None:
            await self._first_sight(key, data, people, now)
            return False
        if _ids(previous) == _ids(people) or level is None:
            await self._refresh(key, data, now)
            return False
        mention = await self._mentions.for_people([*people, *previous])
        text = render.handoff(name, level, previous, mention, zone, now)
        async with self._sessions.begin() as session:
            claimed = await session.execute(
                update(OnCallSnapshot)
                .where(OnCallSnapshot.key == key, OnCallSnapshot.announced_at == version)
                .values(
                    announced=[p.to_json() for p in people],
                    announced_at=now,
                    levels=data,
                    fetched_at=now,
                )
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return False  # another replica announced it
            channel = self._config.oncall.channels.get(name)
            if channel:
                await enqueue(
                    session,
                    op="post",
                    channel=channel,
                    payload={"text": text, "blocks": [section(text)]},
                    now=now,
                    priority=1,
                )
            trail.record(
                session,
                at=now,
                actor=trail.SYSTEM,
                action="oncall.handoff",
                subject=f"schedule:{schedule_id}",
                now_on_call=_ids(people),
                was=_ids(previous),
            )
        return True

    async def _first_sight(
        self, key: str, data: list[dict[str, Any]], people: Sequence[Person], now: datetime
    ) -> None:
        try:
            async with self._sessions.begin() as session:
                session.add(
                    OnCallSnapshot(
                        key=key,
                        levels=data,
                        fetched_at=now,
                        announced=[p.to_json() for p in people],
                        announced_at=now,
                    )
                )
        except IntegrityError:
            pass  # another replica saw it first

    async def _refresh(self, key: str, data: list[dict[str, Any]], now: datetime) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(OnCallSnapshot)
                .where(OnCallSnapshot.key == key, OnCallSnapshot.fetched_at <= now)
                .values(levels=data, fetched_at=now)
            )

    async def _sync_usergroup(self, schedule_id: str, people: Sequence[Person]) -> None:
        group = self._config.oncall.usergroups.get(schedule_id)
        if group is None:
            return
        users = sorted({u for p in people if (u := await self._mentions.slack_user(p))})
        if not users:
            return  # Slack refuses an empty group; keep the last people rather than nobody
        async with self._sessions.begin() as session:
            row = await session.get(OnCallSnapshot, handoff_key(schedule_id), with_for_update=True)
            if row is None or row.usergroup_users == users:
                return
            try:
                await self._people.set_usergroup(group, users)
            except UsergroupNotUpdated as exc:
                log.warning("on-call user group %s not updated: %s (retried)", group, exc)
                return
            row.usergroup_users = users

"""Who is on call for a name: the schedule or service it means, asked of PagerDuty, kept.

A name is a key of `oncall.schedules` (or a schedule id there), or a PagerDuty service
of `pagerduty.services`, whose escalation policy PagerDuty names (`GET /services/{id}`).
Every answer PagerDuty gives is stored as the last known on-call for that schedule or
service, which is what the bot shows when PagerDuty does not answer, and what alert
messages read (never PagerDuty itself, from the alert path).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.pagerduty import PagerError
from actions.pagerduty.oncalls import OnCallsClient
from bot.clock import Clock
from bot.config import Config
from bot.oncall.models import OnCallSnapshot
from oncall.levels import Level, levels_at

log = logging.getLogger(__name__)

# How far ahead on-calls are read: enough for the next handoff of a weekly rotation.
LOOKAHEAD = timedelta(days=8)
MAX_POLICIES = 5  # policies read for one schedule; each adds its levels to the answer
NOT_CONFIGURED = "no PAGERDUTY_API_TOKEN is set"

Kind = Literal["schedule", "service"]


@dataclass(frozen=True)
class Target:
    title: str  # as the person typed it, or the config's name
    kind: Kind
    id: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Reading:
    levels: list[Level] | None
    fetched_at: datetime | None
    error: str | None = None  # set when PagerDuty did not answer (levels: last known)


class OnCallReader:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        clock: Clock,
        client: Callable[[], OnCallsClient | None],
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._client = client

    def known(self) -> list[str]:
        return [*self._config.oncall.schedules, *self._config.pagerduty.services]

    def schedules(self) -> list[Target]:
        return [Target(n, "schedule", s) for n, s in self._config.oncall.schedules.items()]

    def target(self, name: str) -> Target | None:
        schedules = self._config.oncall.schedules
        if name in schedules:
            return Target(name, "schedule", schedules[name])
        by_id = {schedule_id: n for n, schedule_id in schedules.items()}
        if name in by_id:
            return Target(by_id[name], "schedule", name)
        if name in self._config.pagerduty.services:
            return Target(name, "service", name)
        return None

    async def read(self, target: Target) -> Reading:
        """Ask PagerDuty; on any failure, the last known answer and the reason."""
        client = self._client()
        if client is None:
            return await self._last_known(target, NOT_CONFIGURED)
        now = self._clock.now()
        try:
            if target.kind == "service":
                service = await client.service(target.id)
                policy = service.escalation_policy.id if service.escalation_policy else None
                if not policy:
                    return Reading([], now)
                blocks = await client.oncalls(
                    since=now, until=now + LOOKAHEAD, escalation_policy_ids=[policy]
                )
            else:
                # Every level of the policies the schedule serves, not only its own.
                schedule = await client.schedule(target.id)
                policies = [p.id for p in schedule.escalation_policies if p.id]
                blocks = await client.oncalls(
                    since=now,
                    until=now + LOOKAHEAD,
                    **(
                        {"escalation_policy_ids": policies[:MAX_POLICIES]}
                        if policies
                        else {"schedule_ids": [target.id]}
                    ),
                )
        except (PagerError, ValueError) as exc:
            log.warning("on-call for %s not read: %s", target.key, exc)
            return await self._last_known(target, _reason(exc))
        levels = levels_at(blocks, now)
        await self.remember(target, levels, now)
        return Reading(levels, now)

    async def remember(self, target: Target, levels: list[Level], now: datetime) -> None:
        data = [level.to_json() for level in levels]
        try:
            async with self._sessions.begin() as session:
                row = await session.get(OnCallSnapshot, target.key)
                if row is None:
                    session.add(OnCallSnapshot(key=target.key, levels=data, fetched_at=now))
                elif row.fetched_at <= now:
                    row.levels, row.fetched_at = data, now
        except IntegrityError:
            pass  # another replica stored the same answer at the same moment

    async def last_known(self, target: Target) -> Reading:
        async with self._sessions() as session:
            row = await session.get(OnCallSnapshot, target.key)
            if row is None:
                return Reading(None, None)
            return Reading([Level.from_json(d) for d in row.levels], row.fetched_at)

    async def _last_known(self, target: Target, error: str) -> Reading:
        known = await self.last_known(target)
        return Reading(known.levels, known.fetched_at, error)


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if status == 401:
        return "401: the API token was refused"
    if status == 429:
        return "429: rate limited"
    if isinstance(status, int) and status >= 500:
        return f"{status}: PagerDuty error"
    if status is None:
        return "unreachable"
    return f"{status}"

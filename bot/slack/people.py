"""Who a PagerDuty user is in Slack, and which time zone a Slack user reads times in.

`users.lookupByEmail` and `users.info` are reads, so they go to Slack directly (not
through the outbox), cached: a found address for an hour (people rarely change their
address; a refresh then notices those who do), a missing one for ten minutes, so that an
address without a Slack account does not cost a call per /oncall. A failed call is not
cached and answers "unknown": the caller then shows the name instead of a mention.
Keeping an on-call user group equal to the people on call (`usergroups.users.update`)
is a write that sets the whole list, so repeating it is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError

from bot.clock import Clock

log = logging.getLogger(__name__)

FOUND_TTL = timedelta(hours=1)
MISSING_TTL = timedelta(minutes=10)
MAX_CACHED = 5000  # addresses and users; a bound on memory whatever PagerDuty returns


class PeopleApi(Protocol):
    async def users_lookupByEmail(self, *, email: str) -> Any: ...
    async def users_info(self, *, user: str) -> Any: ...
    async def usergroups_users_update(self, *, usergroup: str, users: Sequence[str]) -> Any: ...


class UsergroupNotUpdated(Exception):
    """Slack refused or could not be reached; the caller tries again later."""


class SlackPeople:
    def __init__(self, client: PeopleApi, clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self._by_email: dict[str, tuple[datetime, str | None]] = {}
        self._zones: dict[str, tuple[datetime, str | None]] = {}

    def _fresh(self, cached: tuple[datetime, str | None] | None) -> bool:
        if cached is None:
            return False
        ttl = FOUND_TTL if cached[1] is not None else MISSING_TTL
        return self._clock.now() - cached[0] < ttl

    async def by_email(self, email: str) -> str | None:
        """The Slack user id with this address, or None (not found, or Slack unreachable)."""
        key = email.strip().lower()
        if not key:
            return None
        cached = self._by_email.get(key)
        if self._fresh(cached):
            return cached[1] if cached else None
        try:
            response = await self._client.users_lookupByEmail(email=key)
            user = response.get("user") or {}
            found = str(user.get("id")) if user.get("id") and not user.get("deleted") else None
        except SlackApiError as exc:
            if exc.response.get("error") != "users_not_found":
                log.warning("users.lookupByEmail failed: %s", exc.response.get("error"))
                return cached[1] if cached else None
            found = None
        except (OSError, TimeoutError) as exc:
            log.warning("users.lookupByEmail failed: %s", type(exc).__name__)
            return cached[1] if cached else None
        _remember(self._by_email, key, (self._clock.now(), found))
        return found

    async def time_zone(self, user: str) -> str | None:
        """The user's IANA time zone from their Slack profile, or None."""
        cached = self._zones.get(user)
        if self._fresh(cached):
            return cached[1] if cached else None
        try:
            response = await self._client.users_info(user=user)
            zone = (response.get("user") or {}).get("tz")
        except (SlackApiError, OSError, TimeoutError) as exc:
            log.warning("users.info failed: %s", type(exc).__name__)
            return None
        found = str(zone) if isinstance(zone, str) and zone else None
        _remember(self._zones, user, (self._clock.now(), found))
        return found

    async def set_usergroup(self, usergroup: str, users: Sequence[str]) -> None:
        try:
            await self._client.usergroups_users_update(usergroup=usergroup, users=list(users))
        except SlackApiError as exc:
            raise UsergroupNotUpdated(str(exc.response.get("error"))) from exc
        except (OSError, TimeoutError) as exc:
            raise UsergroupNotUpdated(type(exc).__name__) from exc


def _remember(cache: dict[str, tuple[datetime, str | None]], key: str, value: Any) -> None:
    if len(cache) >= MAX_CACHED:
        cache.pop(next(iter(cache)))
    cache[key] = value

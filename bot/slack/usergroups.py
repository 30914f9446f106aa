"""Who is in which Slack user group, for deciding who may deploy and approve.

Membership is read with `usergroups.users.list` (a read, so it goes to Slack directly,
not through the outbox) and cached for a few minutes: every reaction on a busy approval
message would otherwise cost one Slack call per group. A group that cannot be read
counts as empty, so a Slack outage never lets an outsider approve.

The features that decide who may deploy or approve (operations, runbook steps) get the
directory, not the Slack client: they ask who is in a group, never Slack itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError

from bot.clock import Clock

log = logging.getLogger(__name__)


class UserGroupsApi(Protocol):
    """The one Slack Web API method the directory calls (AsyncWebClient has it)."""

    async def usergroups_users_list(self, *, usergroup: str) -> Any: ...


class UserGroupDirectory:
    def __init__(
        self, client: UserGroupsApi, clock: Clock, *, ttl: timedelta = timedelta(minutes=5)
    ) -> None:
        self._client = client
        self._clock = clock
        self._ttl = ttl
        self._members: dict[str, tuple[datetime, frozenset[str]]] = {}

    async def members(self, group: str) -> frozenset[str]:
        now = self._clock.now()
        cached = self._members.get(group)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
            users = frozenset(str(u) for u in (response.get("users") or []))
        except (SlackApiError, OSError, TimeoutError) as exc:
            log.warning("could not read the members of user group %s: %s", group, exc)
            # Keep a stale answer over none at all, but do not cache the failure.
            return cached[1] if cached is not None else frozenset()
        self._members[group] = (now, users)
        return users

    async def groups_of(self, user: str, groups: Iterable[str]) -> set[str]:
        """Which of `groups` (user-group ids) `user` belongs to."""
        return {group for group in sorted(set(groups)) if user in await self.members(group)}

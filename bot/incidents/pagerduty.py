"""PagerDuty follows a declared incident: the PagerDuty incidents of its alert groups are
shown on its summary, its updates are added to them as notes written by the person who
wrote the update (`pagerduty.users` maps Slack users to PagerDuty logins), resolving it
resolves them, and PagerDuty resolving them all marks the incident Mitigated, never
Resolved: only people close an incident, after the write-up.

PagerDuty's rows are the PagerDuty feature's: what it knows of a group's incidents is
handed to every session (`session.info[PAGERDUTY_LINKS]`, wired by the service). The
REST calls go out after the change committed; one that fails is logged and said in the
channel, and the incident's own state does not depend on it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from actions.pagerduty import PagerError

log = logging.getLogger(__name__)

PAGERDUTY_LINKS = "incidents.pagerduty_links"


class Linked(Protocol):
    incident_id: str
    number: int
    status: str
    html_url: str


class RestClient(Protocol):
    async def add_note(self, incident_id: str, from_email: str, content: str) -> None: ...
    async def resolve(self, incident_id: str, from_email: str) -> Any: ...


Links = Callable[[AsyncSession, Sequence[int]], Awaitable[Sequence[Linked]]]


async def linked(session: AsyncSession, group_ids: Sequence[int]) -> list[Linked]:
    source: Links | None = session.info.get(PAGERDUTY_LINKS)
    return list(await source(session, group_ids)) if source is not None else []


def describe(found: Sequence[Linked]) -> str | None:
    """The summary's PagerDuty line (plain text; the summary escapes it)."""
    if not found:
        return None
    return ", ".join(
        f"#{i.number} ({i.incident_id}) {i.status} {i.html_url}".strip() for i in found
    )


class Follow:
    def __init__(self, client: Callable[[], RestClient | None], users: Mapping[str, str]) -> None:
        self._client = client
        self._users = users

    async def note(self, found: Sequence[Linked], user: str, text: str) -> list[str]:
        """Add `text` to each open PagerDuty incident as `user`; the problems, if any."""
        return await self._each(found, user, lambda c, i, e: c.add_note(i, e, text))

    async def resolve(self, found: Sequence[Linked], user: str) -> list[str]:
        return await self._each(found, user, lambda c, i, e: c.resolve(i, e))

    async def _each(
        self,
        found: Sequence[Linked],
        user: str,
        call: Callable[[RestClient, str, str], Awaitable[Any]],
    ) -> list[str]:
        open_ones = [i for i in found if i.status != "resolved"]
        client = self._client()
        if not open_ones or client is None:
            return []
        email = self._users.get(user)
        if email is None:
            return [f"<@{user}> has no PagerDuty login in pagerduty.users"]
        problems = []
        for incident in open_ones:
            try:
                await call(client, incident.incident_id, email)
            except (PagerError, ValueError) as exc:
                log.warning("PagerDuty incident %s: %s", incident.incident_id, exc)
                problems.append(f"PagerDuty incident {incident.incident_id}: {exc}")
        return problems

"""Whether a user id names a person in the workspace (users.info), for `/incident lead`.

A read, so it goes to Slack directly, not through the outbox. A bot, a deactivated
account or an id Slack does not know is not a person; Slack being unreachable counts as
"not known", and the person is told to try again rather than a lead being set unchecked.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class UsersApi(Protocol):
    async def users_info(self, *, user: str) -> Any: ...


class People:
    def __init__(self, client: UsersApi) -> None:
        self._client = client

    async def is_person(self, user: str) -> bool:
        try:
            response = await self._client.users_info(user=user)
        except (SlackApiError, OSError, TimeoutError) as exc:
            log.info("users.info for %s failed: %s", user, exc)
            return False
        found = response.get("user") or {}
        return bool(found) and not found.get("is_bot") and not found.get("deleted")

"""Finding in Slack the post an outbox row may already have made.

Every post carries message metadata naming its outbox row (sending.outbox_metadata), so a
row whose call ended without an answer (a replica that stopped mid-call, a call that timed
out) is looked up in the channel's history, or its thread, before it is sent again:
posting twice is what a person notices.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.outbox.failures import Permanent, WaitingForParent
from bot.slack.outbox.pacing import POSTING
from bot.slack.outbox.parents import Parents, parent_of
from bot.storage.models import OutboxEntry

METADATA_EVENT = "chatops_outbox"
LOOKUP_WINDOW = timedelta(minutes=10)  # history searched before the row was claimed
HISTORY_PAGES = 10  # conversations.history pages searched at most
LOOKUP_TIMEOUT = 5  # seconds per page: as long as a post may take (sending.CALL_TIMEOUT)


def outbox_metadata(row_id: int) -> dict[str, Any]:
    """What a post carries so that its outbox row can be found in Slack."""
    return {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": row_id}}


class PostFinder:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def find(self, row: OutboxEntry, parents: Parents) -> dict[str, Any] | None:
        """The message posted for `row`, found by its metadata; None when there is none.
        Raises what the Slack client raises when the lookup itself fails."""
        if row.op not in POSTING:
            return None  # updates are idempotent; an ephemeral cannot be looked up
        if row.op == "reply":
            try:
                channel, ts = parent_of(row, parents)
            except (WaitingForParent, Permanent):
                return None
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                response = await self._client.conversations_replies(
                    channel=channel, ts=ts, include_all_metadata=True, limit=1000
                )
            return _match(response.data, row.id, channel)
        return await self._search_history(row)

    async def _search_history(self, row: OutboxEntry) -> dict[str, Any] | None:
        """The channel's post for `row` since shortly before it was claimed."""
        since = (row.unconfirmed_since or row.claimed_at or row.created_at) - LOOKUP_WINDOW
        cursor = None
        for _ in range(HISTORY_PAGES):
            kwargs: dict[str, Any] = {
                "channel": row.channel,
                "oldest": f"{max(since.timestamp(), 0):.6f}",
                "limit": 200,
                "include_all_metadata": True,
            }
            if cursor:
                kwargs["cursor"] = cursor
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                response = await self._client.conversations_history(**kwargs)
            found = _match(response.data, row.id, row.channel)
            if found is not None:
                return found
            data = response.data if isinstance(response.data, dict) else {}
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not data.get("has_more") or not cursor:
                return None
        return None


def _match(data: Any, row_id: int, channel: str) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    for message in data.get("messages") or []:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") != METADATA_EVENT:
            continue
        if (metadata.get("event_payload") or {}).get("outbox_id") == row_id:
            return {"ok": True, "channel": channel, "ts": message["ts"]}
    return None

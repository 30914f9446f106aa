"""Which of the bot's messages a click came from.

A button's value names the object it acts on (an alert group, a PagerDuty incident), but
the value is whatever the signed request says: someone holding one click could name
another group, or an incident the bot never posted. A click only counts when the message
it came from (its channel and ts) is the message the bot posted for that object. A value
naming a group is read by parse_group_id alone.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.models import SlackMessage

_GROUP_ID = re.compile(r"[0-9]{1,18}")


def clicked_at(body: dict[str, Any]) -> tuple[str, str]:
    """The (channel, ts) of the message whose button was clicked; empty when absent."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
    ts = container.get("message_ts") or message.get("ts") or ""
    return str(channel), str(ts)


async def message_key_at(session: AsyncSession, channel: str, ts: str) -> str | None:
    """The key of the bot's message at (channel, ts): which message a click came from."""
    if not channel or not ts:
        return None
    return (
        await session.scalars(
            select(SlackMessage.key).where(SlackMessage.channel == channel, SlackMessage.ts == ts)
        )
    ).first()


async def clicked_on(
    sessions: async_sessionmaker[AsyncSession], body: dict[str, Any], key: str
) -> bool:
    """Whether the click in `body` came from the bot's message stored under `key`."""
    channel, ts = clicked_at(body)
    async with sessions() as session:
        return await message_key_at(session, channel, ts) == key


async def clicked_in_thread_of(
    sessions: async_sessionmaker[AsyncSession], body: dict[str, Any], key: str
) -> bool:
    """Whether the click came from a reply in the thread of the bot's message under `key`."""
    channel, _ = clicked_at(body)
    thread_ts = str((body.get("message") or {}).get("thread_ts") or "")
    async with sessions() as session:
        return await message_key_at(session, channel, thread_ts) == key


def parse_group_id(value: str) -> int | None:
    """Button values are untrusted input: only a plain positive integer is a group id."""
    # str.isdigit() also accepts "²" and other Unicode digits that int() refuses.
    if not _GROUP_ID.fullmatch(value):
        return None
    return int(value)

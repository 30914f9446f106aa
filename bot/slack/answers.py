"""Answers: what a listener tells the person behind a Slack request, and the refusals it audits.

Every feature answers the same way, through this one object: an answer is an outbox row
(op `ephemeral`), sent by bot/slack/outbox/answering.py as Slack allows it to reach the
person wherever they typed or clicked:
1. through the request's `response_url` (ephemeral; Slack takes five posts within 30
   minutes to one, in any conversation, a DM or a private channel the bot is not in);
2. else `chat.postEphemeral`, only in a conversation the bot is a member of;
3. else in the app's DM with the person (`conversations.open`, `chat.postMessage`).
Flows without a response_url (reactions, timers, outcomes finished later) start at 2.

The middleware here stores each request's response_url before its listener runs, and
marks it as the one to answer with (bot/slack/answer_context.py); a refused click is
audited with the message it came from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.audit import trail
from bot.clock import Clock
from bot.slack.answer_context import Answering, answering
from bot.slack.clicks import clicked_at
from bot.slack.outbox_queue import enqueue
from bot.storage.models import SlackResponseUrl

# Bolt's `ack` as the features' listeners see it: they are plain coroutines, attached to
# the bolt app in bot/slack/app.py, so only the Slack folder knows bolt.
Ack = Callable[..., Awaitable[object]]

# Slack's own hosts for response_urls; the one the Web API is reached at (the emulator's,
# in sandbox mode and tests) is accepted too. Anything else is not posted to.
RESPONSE_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
MAX_URL_LENGTH = 2048
# Slack keeps a response_url for 30 minutes; rows older than that are of no use.
KEEP_URLS = timedelta(minutes=30)


class SlackAnswers:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        wake_outbox: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._api_host = ""
        # Listeners call it after their use case queued Slack calls, so they go out now.
        self.wake_outbox = wake_outbox

    def accept_urls_of(self, api_url: str) -> None:
        """Also post to response_urls on the Web API's own host (the emulator's)."""
        self._api_host = urlsplit(api_url).netloc

    async def middleware(
        self, body: dict[str, Any], next: Callable[[], Awaitable[object]]
    ) -> object:
        """Bolt middleware: store the request's response_url, then run its listener."""
        await self.remember(body)
        return await next()

    async def remember(self, body: dict[str, Any]) -> None:
        """Store `body`'s response_url and make it the one this request answers with."""
        url = body.get("response_url")
        if not isinstance(url, str) or not url:
            urls = body.get("response_urls")  # a modal's submission
            first = urls[0] if isinstance(urls, list) and urls else {}
            url = first.get("response_url") if isinstance(first, dict) else None
        channel, user = _channel_of(body), _user_of(body)
        if not isinstance(url, str) or not channel or not user or not self._acceptable(url):
            answering(None)
            return
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await session.execute(
                delete(SlackResponseUrl).where(SlackResponseUrl.received_at < now - KEEP_URLS)
            )
            row = SlackResponseUrl(
                url=url, channel=channel[:32], user_id=user[:32], received_at=now, uses=0
            )
            session.add(row)
            await session.flush()
            answering(Answering(row.id, channel, user))

    def _acceptable(self, url: str) -> bool:
        """Only Slack's response_url hosts (or the Web API's own) are ever posted to."""
        if len(url) > MAX_URL_LENGTH:
            return False
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname in RESPONSE_HOSTS:
            return True
        return bool(self._api_host) and parts.netloc == self._api_host

    async def refuse(
        self, body: dict[str, Any], text: str, *, action: str, subject: str, reason: str
    ) -> None:
        """Audit a refused button click (with the message it came from) and tell the clicker."""
        async with self._sessions.begin() as session:
            trail.record(
                session,
                at=self._clock.now(),
                actor=str((body.get("user") or {}).get("id", "")),
                action=action,
                subject=subject,
                reason=reason,
                clicked=":".join(clicked_at(body)),
                via="slack",
            )
        await self.ephemeral(body, text)

    async def ephemeral(
        self, body: dict[str, Any], text: str, *, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """Tell the person behind a Slack request something only they see (through the
        request's response_url when it has one; see the module's docstring). `blocks`,
        when given, are what Slack shows; `text` is the notification's."""
        channel, user = _channel_of(body), _user_of(body)
        if not channel or not user:
            return
        async with self._sessions.begin() as session:
            await enqueue(
                session,
                op="ephemeral",
                channel=channel,
                payload={"text": text, "user": user, **({"blocks": blocks} if blocks else {})},
                now=self._clock.now(),
                priority=0,
            )
        self.wake_outbox()


def _channel_of(body: dict[str, Any]) -> str:
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
    return str(channel or container.get("channel_id") or "")


def _user_of(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or body.get("user_id") or "")

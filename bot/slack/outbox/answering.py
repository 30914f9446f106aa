"""Sending an answer (op `ephemeral`) so that it reaches its person wherever they are.

In order (bot/slack/answers.py says why):
1. the request's response_url, while it has uses and age left by Slack's rules (five
   posts, 30 minutes); a use is taken in the database before the post, so replicas
   together never spend a sixth. Slack refusing it (404 `expired_url`/`used_url`) or not
   answering falls through;
2. `chat.postEphemeral`, where the bot is a member of the conversation: it has posted
   there, or `conversations.info` says so (remembered a few minutes). A refusal saying it
   is not (`channel_not_found`, `not_in_channel`, `user_not_in_channel`) falls through;
3. the app's DM with the person: `conversations.open`, then the answer is queued as a
   post in that DM, paced there and looked up before a resend like every post.

Other Slack errors are raised as they are, for the sender to retry or record.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.metrics import Metrics
from bot.slack.outbox.failures import Permanent
from bot.slack.outbox_queue import enqueue
from bot.storage.models import OutboxEntry, SlackMessage, SlackResponseUrl

log = logging.getLogger(__name__)

MAX_USES = 5  # Slack: a response_url takes five posts
# Slack: 30 minutes from when it handed the URL out; we stored it a moment later, and a
# post in flight must still arrive in time, so one minute is kept in hand.
MAX_AGE = timedelta(minutes=29)
RESPONSE_TIMEOUT = 5  # seconds: a person waits for this answer
MEMBERSHIP_TTL = 300.0  # seconds a conversations.info answer is trusted
NOT_A_MEMBER = ("channel_not_found", "not_in_channel", "user_not_in_channel", "is_archived")
NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


class AnswerSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: AsyncWebClient,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._clock = clock
        self._metrics = metrics
        self._members: dict[str, tuple[bool, float]] = {}
        self._dms: dict[str, str] = {}

    async def send(self, row: OutboxEntry, args: dict[str, Any]) -> dict[str, Any]:
        """Deliver one answer; what Slack answered, with `answered_via` saying how."""
        payload = row.payload
        url_id = payload.get("response_url_id")
        # A reply in a thread of the bot's own message is best shown there, as an ephemeral.
        if isinstance(url_id, int) and not row.message_key and await self._respond(url_id, args):
            return {"ok": True, "answered_via": "response_url"}
        channel = str(args.get("channel") or "")
        if channel and await self.is_member(channel):
            try:
                response = await self._client.chat_postEphemeral(**args)
            except SlackApiError as exc:
                if _error_of(exc) not in NOT_A_MEMBER:
                    raise
                self._metrics.slack_calls.labels("chat.postEphemeral", "error").inc()
                self._members[channel] = (False, self._clock.now().timestamp())
            else:
                self._metrics.slack_calls.labels("chat.postEphemeral", "ok").inc()
                return {**_data(response.data), "answered_via": "ephemeral"}
        return await self._direct_message(row, args)

    async def _respond(self, url_id: int, args: dict[str, Any]) -> bool:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            url = await session.scalar(
                update(SlackResponseUrl)
                .where(
                    SlackResponseUrl.id == url_id,
                    SlackResponseUrl.uses < MAX_USES,
                    SlackResponseUrl.received_at > now - MAX_AGE,
                )
                .values(uses=SlackResponseUrl.uses + 1)
                .returning(SlackResponseUrl.url)
            )
        if url is None:
            return False  # used up or too old: never a sixth use, never a late one
        body: dict[str, Any] = {
            "response_type": "ephemeral",
            "replace_original": False,
            "text": args.get("text", ""),
        }
        if args.get("blocks"):
            body["blocks"] = args["blocks"]
        hook = AsyncWebhookClient(url, timeout=RESPONSE_TIMEOUT, session=self._client.session)
        try:
            answer = await hook.send_dict(body)
        except NETWORK_ERRORS as exc:
            self._metrics.slack_calls.labels("response_url", "network_error").inc()
            log.warning("response_url post failed (%s); answering another way", exc)
            return False
        if answer.status_code == 200:
            self._metrics.slack_calls.labels("response_url", "ok").inc()
            return True
        self._metrics.slack_calls.labels("response_url", "error").inc()
        log.info("response_url refused (%s %s)", answer.status_code, answer.body[:100])
        if answer.status_code == 404:  # expired_url / used_url: Slack will not take more
            async with self._sessions.begin() as session:
                await session.execute(
                    update(SlackResponseUrl)
                    .where(SlackResponseUrl.id == url_id)
                    .values(uses=MAX_USES)
                )
        return False

    async def is_member(self, channel: str) -> bool:
        """Whether the bot is in `channel`: it posted there, or conversations.info says so."""
        now = self._clock.now().timestamp()
        known = self._members.get(channel)
        if known is not None and now - known[1] < MEMBERSHIP_TTL:
            return known[0]
        async with self._sessions() as session:
            posted = await session.scalar(
                select(SlackMessage.id).where(SlackMessage.channel == channel).limit(1)
            )
        member = posted is not None
        if not member:
            try:
                info = await self._client.conversations_info(channel=channel)
            except SlackApiError as exc:
                # Slack hides private conversations the bot is not in: channel_not_found.
                self._metrics.slack_calls.labels("conversations.info", "error").inc()
                log.info("conversations.info %s: %s", channel, _error_of(exc))
            else:
                self._metrics.slack_calls.labels("conversations.info", "ok").inc()
                found = _data(info.data).get("channel") or {}
                # The app's own DM has no is_member; the bot can only see its own DMs.
                member = bool(found.get("is_member") or found.get("is_im"))
        self._members[channel] = (member, now)
        return member

    async def _direct_message(self, row: OutboxEntry, args: dict[str, Any]) -> dict[str, Any]:
        """Open the app's DM with the person and queue the answer there as a post of its
        own: paced in that DM like any post, and looked up before it is ever sent again."""
        user = str(row.payload.get("user", ""))
        dm = self._dms.get(user)
        if dm is None:
            opened = await self._client.conversations_open(users=user)
            self._metrics.slack_calls.labels("conversations.open", "ok").inc()
            dm = str((_data(opened.data).get("channel") or {}).get("id") or "")
            if not dm:
                raise Permanent(f"conversations.open named no DM channel for {user}")
            self._dms[user] = dm
        post: dict[str, Any] = {"text": args.get("text", "")}
        if args.get("blocks"):
            post["blocks"] = args["blocks"]
        async with self._sessions.begin() as session:
            await enqueue(
                session,
                op="post",
                channel=dm,
                payload=post,
                now=self._clock.now(),
                priority=row.priority,
            )
        return {"ok": True, "answered_via": "direct_message", "channel": dm}


def _data(data: object) -> dict[str, Any]:
    return dict(data) if isinstance(data, dict) else {}


def _error_of(exc: SlackApiError) -> str:
    response = exc.response
    return str(response.get("error") if hasattr(response, "get") else "") or ""

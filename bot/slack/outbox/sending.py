"""Sending: the Slack Web API calls of one channel's claimed rows, in order.

Each channel is sent to by a task of its own (worker.py), so a call Slack is slow to
answer holds only its channel. A 429 stops the channel for this pass; the bucket the call
spent (the channel's for a post, the workspace's updates for chat.update) waits out
`Retry-After`. Every post carries message metadata naming its outbox row (lookup.py).

A call is given `CALL_TIMEOUT`: a person waiting for a P0 accepts a few seconds, not 15.
A post whose call timed out or broke off after it was sent may still be posted by Slack,
so the row is kept `unconfirmed`: before it is sent again it is looked up in Slack, and
sent again only when it is not there `CONFIRM_AFTER` after the call that broke off.
Never posting twice is worth a late retry of a call that truly got lost.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import messages as m
from bot.clock import Clock
from bot.metrics import Metrics
from bot.slack.outbox.answering import AnswerSender
from bot.slack.outbox.calls import send_call
from bot.slack.outbox.failures import (
    Permanent,
    RetryLater,
    Unconfirmed,
    WaitingForParent,
    backoff,
)
from bot.slack.outbox.lookup import PostFinder, outbox_metadata
from bot.slack.outbox.optional_blocks import MAX_RESENDS, without_refused
from bot.slack.outbox.pacing import POSTING, bucket_of
from bot.slack.outbox.parents import Parents, parent_of
from bot.slack.outbox.recording import Outcome
from bot.slack.outbox.refusals import (
    NETWORK_ERRORS,
    Refused,
    classify,
    log_refusal,
    log_warnings,
)
from bot.slack.outbox.shared_pace import SharedPace
from bot.slack.outbox.uploads import Uploader
from bot.storage.models import OutboxEntry

log = logging.getLogger(__name__)

METHOD = {
    "post": "chat.postMessage",
    "update": "chat.update",
    "reply": "chat.postMessage",
    "ephemeral": "chat.postEphemeral",
    "upload": "files.completeUploadExternal",
    "call": "conversations.*",  # the row names its method (calls.py)
}
# Seconds a Slack call may take: Slack answers a post in well under a second when it is
# well; past this a P0 is better retried (after a lookup) than waited for.
CALL_TIMEOUT = 5
# How long after a post's call broke off it may still show up in Slack: until then a
# lookup that does not find it waits, rather than posting a second copy.
CONFIRM_AFTER = timedelta(seconds=30)
CONFIRM_STEP = timedelta(seconds=2)  # between lookups of an unconfirmed post


def make_client(token: str, base_url: str) -> AsyncWebClient:
    """The Web API client. No retry handlers: slack_sdk retries a dropped connection
    blindly, which posts twice when Slack had the call; the outbox retries instead, after
    looking the post up."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return AsyncWebClient(token=token, base_url=base, timeout=CALL_TIMEOUT, retry_handlers=[])


class Sender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: AsyncWebClient,
        clock: Clock,
        metrics: Metrics,
        pace: SharedPace,
    ) -> None:
        self._client = client
        self._clock = clock
        self._metrics = metrics
        self._pace = pace
        self._finder = PostFinder(client)
        self._uploads = Uploader(sessions, client, metrics)
        self._answers = AnswerSender(sessions, client, clock, metrics)

    async def send_channel(self, rows: list[OutboxEntry], parents: Parents) -> list[Outcome]:
        """One channel's rows, in order; a 429 releases the rest of the channel's rows."""
        outcomes: list[Outcome] = []
        for index, row in enumerate(rows):
            try:
                result = await self._send(row, parents)
            except WaitingForParent:
                outcomes.append(Outcome(row, "released"))
                continue
            except RetryLater as retry:
                not_before = self._clock.now() + retry.after
                outcomes.append(
                    Outcome(
                        row,
                        "pending",
                        retry.reason,
                        not_before=not_before,
                        attempt=True,
                        unconfirmed=isinstance(retry, Unconfirmed),
                    )
                )
                if retry.reason == "ratelimited":
                    now = self._clock.now().timestamp()
                    # An update's 429 is chat.update's workspace limit, not the channel's.
                    bucket = bucket_of(row.op, row.channel) or row.channel
                    await self._pace.throttled(bucket, now, retry.after.total_seconds())
                    outcomes.extend(Outcome(r, "released") for r in rows[index + 1 :])
                    break
                continue
            except Refused as refused:
                log_refusal(row, refused.detail)
                error = str(refused)
                outcomes.append(
                    Outcome(row, "failed", error=error, attempt=True, detail=refused.detail)
                )
                continue
            except Permanent as exc:
                log.error("Slack refused %s to %s for good: %s", row.op, row.channel, exc)
                outcomes.append(Outcome(row, "failed", error=str(exc), attempt=True))
                continue
            if row.op == "post" and row.message_key and result.get("ts"):
                parents[row.message_key] = (str(result.get("channel") or row.channel), result["ts"])
            outcomes.append(_sent(row, result))
        return outcomes

    async def _send(self, row: OutboxEntry, parents: Parents) -> dict[str, Any]:
        if row.unconfirmed_since is not None and row.op in POSTING:
            found = await self._confirm(row, parents)
            if found is not None:
                return found
        if row.op == "upload":
            return await self._uploads.upload(row, parents)
        if row.op in ("call", "ephemeral"):
            return await self._other(row, parents)
        return await self._call(row, _message_args(row, parents))

    async def _other(self, row: OutboxEntry, parents: Parents) -> dict[str, Any]:
        """An incident channel's conversations.*/pins.* call (calls.py), or an answer to a
        person: response_url, else an ephemeral where the bot is a member, else their DM
        (answering.py). Timed like every call; an answer may take three."""
        method = str(row.payload.get("method")) if row.op == "call" else METHOD[row.op]
        try:
            async with asyncio.timeout(CALL_TIMEOUT * (1 if row.op == "call" else 3)):
                if row.op == "call":
                    result = await send_call(self._client, row, parents)
                    self._metrics.slack_calls.labels(method, "ok").inc()
                    return result
                return await self._answers.send(row, _message_args(row, parents))
        except SlackApiError as exc:
            raise classify(self._metrics, method, row, exc) from exc
        except NETWORK_ERRORS as exc:
            raise self._network_error(method, row, exc) from exc

    async def _confirm(self, row: OutboxEntry, parents: Parents) -> dict[str, Any] | None:
        """The post an earlier call made after all, else None when it is time to send it
        again; raises Unconfirmed while it may still show up."""
        since = row.unconfirmed_since
        assert since is not None
        try:
            found = await self._finder.find(row, parents)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            reason = f"could not look up the post whose call broke off: {type(exc).__name__}"
            raise Unconfirmed(backoff(row.attempts), reason) from exc
        if found is not None:
            log.info("outbox row %s was posted by the call that broke off", row.id)
            return found
        waited = self._clock.now() - since
        if waited < CONFIRM_AFTER:
            wait = min(CONFIRM_STEP, CONFIRM_AFTER - waited)
            raise Unconfirmed(wait, "waiting for the post whose call broke off to show")
        log.warning("outbox row %s is not in Slack %s after its call: posting it", row.id, waited)
        return None

    async def _call(self, row: OutboxEntry, args: dict[str, Any]) -> dict[str, Any]:
        """One chat.* call; sent again without the optional blocks Slack refused."""
        method = METHOD[row.op]
        dropped: list[str] = []
        for resend in range(MAX_RESENDS + 1):
            try:
                response = await self._invoke(row.op, args)
            except SlackApiError as exc:
                failure = classify(self._metrics, method, row, exc)
                cut = _cut_optional(failure, args) if resend < MAX_RESENDS else None
                if cut is None:
                    raise failure from exc
                assert isinstance(failure, Refused)
                log_refusal(row, failure.detail)
                args, kinds = cut
                for kind in kinds:
                    self._metrics.slack_blocks_dropped.labels(kind).inc()
                log.warning("sending outbox row %s again without %s", row.id, ", ".join(kinds))
                dropped.extend(kinds)
                continue
            except NETWORK_ERRORS as exc:
                raise self._network_error(method, row, exc) from exc
            self._metrics.slack_calls.labels(method, "ok").inc()
            data = dict(response.data) if isinstance(response.data, dict) else {}
            log_warnings(method, data)
            if dropped:
                data["dropped_blocks"] = sorted(set(dropped))
            return data
        raise AssertionError("unreachable")

    async def _invoke(self, op: str, args: dict[str, Any]) -> Any:
        # The client's own timeout applies only to sessions it opens itself, not to the
        # service's shared one: every call is timed here.
        async with asyncio.timeout(CALL_TIMEOUT):
            if op == "update":
                return await self._client.chat_update(**args)
            if op == "ephemeral":
                return await self._client.chat_postEphemeral(**args)
            return await self._client.chat_postMessage(**args)

    def _network_error(self, method: str, row: OutboxEntry, exc: Exception) -> RetryLater:
        self._metrics.slack_calls.labels(method, "network_error").inc()
        reason = f"network error: {type(exc).__name__}"
        # Not connected: Slack never had the call. Otherwise a post may have been made.
        if row.op in POSTING and not isinstance(exc, aiohttp.ClientConnectorError):
            return Unconfirmed(backoff(row.attempts), reason)
        return RetryLater(backoff(row.attempts), reason)


def _cut_optional(
    failure: Exception, args: dict[str, Any]
) -> tuple[dict[str, Any], list[str]] | None:
    """The call's arguments without the optional blocks an `invalid_blocks` names."""
    if not isinstance(failure, Refused) or failure.detail.get("error") != "invalid_blocks":
        return None
    blocks = args.get("blocks")
    if not isinstance(blocks, list):
        return None
    cut = without_refused(blocks, list(failure.detail.get("errors") or []))
    if cut is None:
        return None
    kept, kinds = cut
    changed = {k: v for k, v in args.items() if k != "blocks"}
    if kept:
        changed["blocks"] = kept
    return changed, kinds


def _sent(row: OutboxEntry, result: dict[str, Any]) -> Outcome:
    """A sent row; a new message that lost its image says so in its thread."""
    note = None
    if result.get("dropped_blocks") and row.op == "post" and row.message_key:
        note = m.IMAGE_UNAVAILABLE
    return Outcome(row, "sent", result=result, note=note)


def _message_args(row: OutboxEntry, parents: Parents) -> dict[str, Any]:
    """The arguments of the chat.* call for a row that is not an upload."""
    payload = dict(row.payload)
    args: dict[str, Any] = {"channel": row.channel, "text": payload.get("text", "")}
    if payload.get("blocks"):
        args["blocks"] = payload["blocks"]
    if row.op == "post" and payload.get("thread_ts"):
        # A message of its own (own key, updated in place) posted in a thread.
        args["thread_ts"] = payload["thread_ts"]
    if row.op in ("update", "reply") or (row.op == "ephemeral" and row.message_key):
        channel, ts = parent_of(row, parents)
        args["channel"] = channel
        if row.op == "update":
            args["ts"] = ts
        else:
            args["thread_ts"] = ts
    if row.op == "ephemeral":
        args["user"] = payload["user"]
    if row.op in POSTING:
        args["metadata"] = outbox_metadata(row.id)
    return args

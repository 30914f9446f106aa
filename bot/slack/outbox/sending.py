"""Sending: the Slack Web API calls of claimed rows.

Channels are sent to concurrently; one channel's rows go in order, and a 429 stops that
channel for this pass while the others go on; the bucket the call spent (the channel's
for a post, the workspace's updates for chat.update) waits out `Retry-After`. Every
post carries message metadata naming its outbox row, so that recovery can find it in
Slack (recovery.py).

Uploads (op `upload`, files in `outbox_files`) follow Slack's flow:
files.getUploadURLExternal, the bytes POSTed to the URL it returns, then
files.completeUploadExternal into the channel or the thread of `message_key`. A 429 or a
failure at any of the three restarts the flow at its next try (an upload never completed
is discarded by Slack).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.metrics import Metrics
from bot.slack.outbox.answering import AnswerSender
from bot.slack.outbox.calls import send_call
from bot.slack.outbox.failures import (
    Permanent,
    RetryLater,
    WaitingForParent,
    backoff,
    retry_after_seconds,
)
from bot.slack.outbox.pacing import POSTING, bucket_of
from bot.slack.outbox.parents import Parents, parent_of
from bot.slack.outbox.recording import Outcome
from bot.slack.outbox.shared_pace import SharedPace
from bot.storage.models import OutboxEntry, OutboxFile

log = logging.getLogger(__name__)

METHOD = {
    "post": "chat.postMessage",
    "update": "chat.update",
    "reply": "chat.postMessage",
    "ephemeral": "chat.postEphemeral",
    "upload": "files.completeUploadExternal",
    "call": "conversations.*",  # the row names its method (calls.py)
}
METADATA_EVENT = "chatops_outbox"
CONCURRENCY = 16  # channels sent to at the same time
NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
SERVER_ERRORS = ("fatal_error", "internal_error", "service_unavailable", "request_timeout")


def make_client(token: str, base_url: str) -> AsyncWebClient:
    base = base_url if base_url.endswith("/") else base_url + "/"
    return AsyncWebClient(token=token, base_url=base, timeout=15)


def outbox_metadata(row_id: int) -> dict[str, Any]:
    """What a post carries so that its outbox row can be found in Slack."""
    return {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": row_id}}


class Sender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: AsyncWebClient,
        clock: Clock,
        metrics: Metrics,
        pace: SharedPace,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._clock = clock
        self._metrics = metrics
        self._pace = pace
        self._answers = AnswerSender(sessions, client, clock, metrics)

    async def send_all(self, rows: list[OutboxEntry], parents: Parents) -> list[Outcome]:
        """Every row's outcome; channels concurrently, each channel's rows in order."""
        by_channel: dict[str, list[OutboxEntry]] = {}
        for row in rows:  # already in priority order: the most urgent channel starts first
            by_channel.setdefault(row.channel, []).append(row)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def channel_worker(channel_rows: list[OutboxEntry]) -> list[Outcome]:
            async with gate:
                return await self._send_channel(channel_rows, parents)

        results = await asyncio.gather(*(channel_worker(r) for r in by_channel.values()))
        return [outcome for group in results for outcome in group]

    async def _send_channel(self, rows: list[OutboxEntry], parents: Parents) -> list[Outcome]:
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
                    Outcome(row, "pending", retry.reason, not_before=not_before, attempt=True)
                )
                if retry.reason == "ratelimited":
                    now = self._clock.now().timestamp()
                    # An update's 429 is chat.update's workspace limit, not the channel's.
                    bucket = bucket_of(row.op, row.channel) or row.channel
                    await self._pace.throttled(bucket, now, retry.after.total_seconds())
                    # The rest of this channel waits its turn; other channels go on.
                    outcomes.extend(Outcome(r, "released") for r in rows[index + 1 :])
                    break
                continue
            except Permanent as exc:
                log.error("Slack refused %s to %s for good: %s", row.op, row.channel, exc)
                outcomes.append(Outcome(row, "failed", error=str(exc), attempt=True))
                continue
            if row.op == "post" and row.message_key and result.get("ts"):
                parents[row.message_key] = (str(result.get("channel") or row.channel), result["ts"])
            outcomes.append(Outcome(row, "sent", result=result))
        return outcomes

    async def _send(self, row: OutboxEntry, parents: Parents) -> dict[str, Any]:
        if row.op == "upload":
            return await self._upload(row, parents)
        args = _message_args(row, parents) if row.op != "call" else {}
        method = METHOD[row.op] if row.op != "call" else str(row.payload.get("method"))
        try:
            if row.op == "call":
                result = await send_call(self._client, row, parents)
                self._metrics.slack_calls.labels(method, "ok").inc()
                return result
            if row.op == "update":
                response = await self._client.chat_update(**args)
            elif row.op == "ephemeral":
                # response_url, else an ephemeral where the bot is a member, else a DM.
                return await self._answers.send(row, args)
            else:
                response = await self._client.chat_postMessage(**args)
        except SlackApiError as exc:
            raise self._classify(method, row, exc) from exc
        except NETWORK_ERRORS as exc:
            raise self._network_error(method, row, exc) from exc
        self._metrics.slack_calls.labels(method, "ok").inc()
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def _upload(self, row: OutboxEntry, parents: Parents) -> dict[str, Any]:
        payload = dict(row.payload)
        channel, thread_ts = row.channel, None
        if row.message_key:
            channel, thread_ts = parent_of(row, parents)
        async with self._sessions() as session:
            content = await session.scalar(
                select(OutboxFile.content).where(OutboxFile.id == payload.get("file"))
            )
        if not content:
            raise Permanent("the file to upload is missing from outbox_files")
        filename = str(payload.get("filename") or "file")
        method = "files.getUploadURLExternal"
        try:
            ask: dict[str, Any] = {"filename": filename, "length": len(content)}
            if payload.get("alt_text"):
                ask["alt_txt"] = payload["alt_text"]
            got = await self._client.files_getUploadURLExternal(**ask)
            self._metrics.slack_calls.labels(method, "ok").inc()
            file_id = str(got["file_id"])
            method = "upload"
            await self._send_bytes(str(got["upload_url"]), filename, content, row.attempts)
            self._metrics.slack_calls.labels(method, "ok").inc()
            method = "files.completeUploadExternal"
            done = await self._client.files_completeUploadExternal(
                files=[{"id": file_id, "title": payload.get("title") or filename}],
                channel_id=channel,
                thread_ts=thread_ts,
                initial_comment=payload.get("text") or None,
            )
        except SlackApiError as exc:
            raise self._classify(method, row, exc) from exc
        except NETWORK_ERRORS as exc:
            raise self._network_error(method, row, exc) from exc
        self._metrics.slack_calls.labels(method, "ok").inc()
        data = dict(done.data) if isinstance(done.data, dict) else {}
        return {"ok": True, "channel": channel, "file_id": file_id, "files": data.get("files")}

    async def _send_bytes(self, url: str, filename: str, content: bytes, attempts: int) -> None:
        """Step two of the upload flow: the file's bytes to the URL Slack handed out."""
        http = self._client.session
        own = http is None
        if http is None:
            http = aiohttp.ClientSession()
        try:
            form = aiohttp.FormData()
            form.add_field("file", content, filename=filename)
            async with http.post(url, data=form, timeout=aiohttp.ClientTimeout(total=60)) as r:
                status, retry_after = r.status, r.headers.get("Retry-After")
                await r.read()
        finally:
            if own:
                await http.close()
        if status == 200:
            return
        if status == 429:
            self._metrics.slack_calls.labels("upload", "ratelimited").inc()
            seconds = retry_after_seconds({"Retry-After": retry_after})
            raise RetryLater(timedelta(seconds=seconds), "ratelimited")
        if status >= 500:
            self._metrics.slack_calls.labels("upload", "server_error").inc()
            raise RetryLater(backoff(attempts), f"the upload URL answered {status}")
        self._metrics.slack_calls.labels("upload", "error").inc()
        raise Permanent(f"the upload URL answered {status}")

    def _classify(self, method: str, row: OutboxEntry, exc: SlackApiError) -> Exception:
        status = getattr(exc.response, "status_code", 200)
        error = exc.response.get("error") if hasattr(exc.response, "get") else None
        if status == 429 or error == "ratelimited":
            self._metrics.slack_calls.labels(method, "ratelimited").inc()
            retry_after = retry_after_seconds(exc.response.headers)
            return RetryLater(timedelta(seconds=retry_after), "ratelimited")
        if status >= 500 or error in SERVER_ERRORS:
            self._metrics.slack_calls.labels(method, "server_error").inc()
            reason = f"Slack answered {status} {error or ''}".strip()
            return RetryLater(backoff(row.attempts), reason)
        self._metrics.slack_calls.labels(method, "error").inc()
        return Permanent(str(error or f"HTTP {status}"))

    def _network_error(self, method: str, row: OutboxEntry, exc: Exception) -> RetryLater:
        self._metrics.slack_calls.labels(method, "network_error").inc()
        return RetryLater(backoff(row.attempts), f"network error: {type(exc).__name__}")


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

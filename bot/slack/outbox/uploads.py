"""Uploads (op `upload`, files in `outbox_files`), by Slack's flow:
files.getUploadURLExternal, the bytes POSTed to the URL it returns, then
files.completeUploadExternal into the channel or the thread of `message_key`. A 429 or a
failure at any of the three restarts the flow at its next try (an upload never completed
is discarded by Slack).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.metrics import Metrics
from bot.slack.outbox.failures import Permanent, RetryLater, backoff, retry_after_seconds
from bot.slack.outbox.parents import Parents, parent_of
from bot.slack.outbox.refusals import NETWORK_ERRORS, classify
from bot.storage.models import OutboxEntry, OutboxFile

# Seconds for a Web API call of the flow (the client's own timeout does not apply to a
# shared session), and for the bytes themselves: up to Slack's 1 GB per file.
CALL_TIMEOUT = 10.0
UPLOAD_TIMEOUT = 60.0


class Uploader:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: AsyncWebClient,
        metrics: Metrics,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._metrics = metrics

    async def upload(self, row: OutboxEntry, parents: Parents) -> dict[str, Any]:
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
            async with asyncio.timeout(CALL_TIMEOUT):
                got = await self._client.files_getUploadURLExternal(**ask)
            self._metrics.slack_calls.labels(method, "ok").inc()
            file_id = str(got["file_id"])
            method = "upload"
            await self._send_bytes(str(got["upload_url"]), filename, content, row.attempts)
            self._metrics.slack_calls.labels(method, "ok").inc()
            method = "files.completeUploadExternal"
            async with asyncio.timeout(CALL_TIMEOUT):
                done = await self._client.files_completeUploadExternal(
                    files=[{"id": file_id, "title": payload.get("title") or filename}],
                    channel_id=channel,
                    thread_ts=thread_ts,
                    initial_comment=payload.get("text") or None,
                )
        except SlackApiError as exc:
            raise classify(self._metrics, method, row, exc) from exc
        except NETWORK_ERRORS as exc:
            self._metrics.slack_calls.labels(method, "network_error").inc()
            reason = f"network error: {type(exc).__name__}"
            raise RetryLater(backoff(row.attempts), reason) from exc
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
            timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT)
            async with http.post(url, data=form, timeout=timeout) as r:
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

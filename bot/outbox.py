"""The outbox: the one place that calls the Slack Web API.

Rows are taken in priority order (P0 first), oldest first within a priority. A 429 waits
for Slack's Retry-After; a 5xx or a network error backs off; a permanent error (Slack
said the call itself is wrong) is kept as `failed` with Slack's error, counted in
/metrics and logged. Nothing is deleted, so nothing is lost without a trace.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.metrics import Metrics
from bot.storage.models import OutboxEntry, SlackMessage

log = logging.getLogger(__name__)

METHOD = {
    "post": "chat.postMessage",
    "update": "chat.update",
    "reply": "chat.postMessage",
    "ephemeral": "chat.postEphemeral",
}
MAX_BACKOFF = timedelta(minutes=5)


class _Retry(Exception):
    def __init__(self, after: timedelta, reason: str) -> None:
        super().__init__(reason)
        self.after = after
        self.reason = reason


class _Permanent(Exception):
    pass


class _Waiting(Exception):
    """The message this call refers to has not been posted yet."""


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)


def make_client(token: str, base_url: str) -> AsyncWebClient:
    base = base_url if base_url.endswith("/") else base_url + "/"
    return AsyncWebClient(token=token, base_url=base, timeout=15)


class Outbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: AsyncWebClient,
        clock: Clock,
        metrics: Metrics,
        *,
        batch: int = 50,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._clock = clock
        self._metrics = metrics
        self._batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, poll_interval: float = 1.0) -> None:
        while True:
            self._wake.clear()
            try:
                sent = await self.drain_once()
            except Exception:
                log.exception("outbox pass failed; retrying shortly")
                sent = 0
            if sent:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=poll_interval)
            except TimeoutError:
                pass

    async def drain(self, max_passes: int = 1000) -> None:
        """Send everything that is due now (tests, shutdown)."""
        for _ in range(max_passes):
            if not await self.drain_once():
                return

    async def drain_once(self) -> int:
        """One pass over due rows; returns how many rows changed state."""
        now = self._clock.now()
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(OutboxEntry)
                    .where(OutboxEntry.state == "pending", OutboxEntry.not_before <= now)
                    .order_by(OutboxEntry.priority, OutboxEntry.id)
                    .limit(self._batch)
                )
            ).all()
            session.expunge_all()
        changed = 0
        throttled: set[str] = set()
        for row in rows:
            if row.channel in throttled:
                continue  # keep the channel's order: nothing jumps a rate-limited call
            try:
                result = await self._send(row)
            except _Waiting:
                continue
            except _Retry as retry:
                if retry.reason == "ratelimited":
                    throttled.add(row.channel)
                await self._finish(
                    row.id,
                    state="pending",
                    error=retry.reason,
                    not_before=self._clock.now() + retry.after,
                    attempt=True,
                )
                changed += 1
                continue
            except _Permanent as exc:
                log.error("Slack refused %s to %s for good: %s", row.op, row.channel, exc)
                await self._finish(row.id, state="failed", error=str(exc), attempt=True)
                changed += 1
                continue
            await self._finish(row.id, state="sent", result=result, row=row)
            changed += 1
        await self.update_gauges()
        return changed

    async def update_gauges(self) -> None:
        async with self._sessions() as session:
            counts = dict(
                (
                    await session.execute(
                        select(OutboxEntry.state, func.count())
                        .where(OutboxEntry.state.in_(("pending", "failed")))
                        .group_by(OutboxEntry.state)
                    )
                ).all()
            )
            oldest = await session.scalar(
                select(func.min(OutboxEntry.created_at)).where(OutboxEntry.state == "pending")
            )
        self._metrics.outbox_depth.set(counts.get("pending", 0))
        self._metrics.outbox_failed.set(counts.get("failed", 0))
        age = (self._clock.now() - oldest).total_seconds() if oldest else 0.0
        self._metrics.outbox_oldest_seconds.set(max(age, 0.0))

    async def _send(self, row: OutboxEntry) -> dict[str, Any]:
        payload = dict(row.payload)
        args: dict[str, Any] = {"channel": row.channel, "text": payload.get("text", "")}
        if payload.get("blocks"):
            args["blocks"] = payload["blocks"]
        if row.op == "post" and payload.get("thread_ts"):
            # A message of its own (own key, updated in place) posted in a thread.
            args["thread_ts"] = payload["thread_ts"]
        if row.op in ("update", "reply") or (row.op == "ephemeral" and row.message_key):
            parent = await self._parent(row)
            args["channel"] = parent.channel
            if row.op == "update":
                args["ts"] = parent.ts
            else:
                args["thread_ts"] = parent.ts
        if row.op == "ephemeral":
            args["user"] = payload["user"]
        method = METHOD[row.op]
        try:
            if row.op == "update":
                response = await self._client.chat_update(**args)
            elif row.op == "ephemeral":
                response = await self._client.chat_postEphemeral(**args)
            else:
                response = await self._client.chat_postMessage(**args)
        except SlackApiError as exc:
            raise self._classify(method, row, exc) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._metrics.slack_calls.labels(method, "network_error").inc()
            raise _Retry(backoff(row.attempts), f"network error: {type(exc).__name__}") from exc
        self._metrics.slack_calls.labels(method, "ok").inc()
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def _parent(self, row: OutboxEntry) -> SlackMessage:
        async with self._sessions() as session:
            parent = (
                await session.scalars(
                    select(SlackMessage).where(SlackMessage.key == row.message_key)
                )
            ).first()
            if parent is not None:
                return parent
            failed = await session.scalar(
                select(func.count())
                .select_from(OutboxEntry)
                .where(
                    OutboxEntry.message_key == row.message_key,
                    OutboxEntry.op == "post",
                    OutboxEntry.state == "failed",
                )
            )
        if failed:
            raise _Permanent(f"the message {row.message_key} it belongs to could not be posted")
        raise _Waiting()

    def _classify(self, method: str, row: OutboxEntry, exc: SlackApiError) -> Exception:
        status = getattr(exc.response, "status_code", 200)
        error = exc.response.get("error") if hasattr(exc.response, "get") else None
        if status == 429 or error == "ratelimited":
            self._metrics.slack_calls.labels(method, "ratelimited").inc()
            retry_after = _retry_after(exc.response.headers)
            return _Retry(timedelta(seconds=retry_after), "ratelimited")
        if status >= 500 or error in (
            "fatal_error",
            "internal_error",
            "service_unavailable",
            "request_timeout",
        ):
            self._metrics.slack_calls.labels(method, "server_error").inc()
            return _Retry(backoff(row.attempts), f"Slack answered {status} {error or ''}".strip())
        self._metrics.slack_calls.labels(method, "error").inc()
        return _Permanent(str(error or f"HTTP {status}"))

    async def _finish(
        self,
        row_id: int,
        *,
        state: str,
        error: str | None = None,
        not_before: datetime | None = None,
        attempt: bool = False,
        result: dict[str, Any] | None = None,
        row: OutboxEntry | None = None,
    ) -> None:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            entry = await session.get(OutboxEntry, row_id)
            if entry is None:
                return
            entry.state = state
            entry.last_error = error
            if attempt:
                entry.attempts += 1
            if not_before is not None:
                entry.not_before = not_before
            if state == "sent":
                entry.sent_at = now
                entry.attempts += 1
                if row is not None and row.op == "post" and row.message_key and result:
                    session.add(
                        SlackMessage(
                            key=row.message_key,
                            channel=str(result.get("channel") or row.channel),
                            ts=str(result["ts"]),
                            created_at=now,
                        )
                    )


def _retry_after(headers: Any) -> float:
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        return max(float(value), 1.0)
    except (TypeError, ValueError, AttributeError):
        return 1.0

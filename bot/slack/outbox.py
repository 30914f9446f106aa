"""The outbox: the one place that calls the Slack Web API.

Each pass reads the first few due rows of every channel, in priority order (P0 first),
oldest first within a priority, claims them (state `sending`, `claimed_by` this
replica) with one conditional UPDATE, sends to different channels concurrently (one
channel's calls stay in order), and records every outcome in one transaction. So a P0
never waits behind another channel's backlog or another channel's 429, and the database
sees a handful of statements per pass, not one round trip per call.

Pacing: every channel is paced from its first post at Slack's documented rate (about
one message per second per channel, short bursts), whether or not Slack ever answered 429,
because above that rate Slack may hide an app's messages instead of refusing them. Part
of each channel's bucket is a reserve that only P0/P1 posts may spend, so a P0 goes out
the moment it is claimed even in a channel with a long backlog. `Retry-After` is always
honoured, for that channel only, and when it ends the bucket holds exactly the one token
Slack has refilled by then: the most urgent waiting post is the first call sent. A 5xx or
a network error backs off; a permanent error (Slack said the call itself is wrong) is
kept as `failed` with Slack's error, counted and logged. Nothing is deleted, so nothing
is lost without a trace.

Exactly once towards Slack: every post carries message metadata naming its outbox row.
A row left `sending` by a replica that died (see bot/replicas/claims.py) is looked up in the
channel's history (or thread) before it is sent again: found, it is recorded as sent;
not found, it goes back to `pending`. The residual window is a post Slack accepted but
has not yet made visible to conversations.history when the lookup runs, and an
ephemeral message (which cannot be looked up) sent just before a crash.

A lookup that keeps failing (`missing_scope` when the app lacks channels:history,
`not_in_channel`, `channel_not_found`, or Slack being down) must not leave the row, maybe
a P0, unsent for ever: after `MAX_LOOKUP_FAILURES` failed lookups the row is sent again
unchecked, logged as a possible duplicate and counted in
`chatops_outbox_resent_unverified_total`. A duplicate is better than a lost page.

Uploads (op `upload`, files in `outbox_files`) follow Slack's flow:
files.getUploadURLExternal, the bytes POSTed to the URL it returns, then
files.completeUploadExternal into the channel or the thread of `message_key`. A 429 or
a failure at any of the three restarts the flow at its next try (an upload never
completed is discarded by Slack); an upload completed by a replica that died before
recording it is shared again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.metrics import Metrics
from bot.replicas.claims import Replica
from bot.storage.models import OutboxEntry, OutboxFile, SlackMessage

log = logging.getLogger(__name__)

METHOD = {
    "post": "chat.postMessage",
    "update": "chat.update",
    "reply": "chat.postMessage",
    "ephemeral": "chat.postEphemeral",
    "upload": "files.completeUploadExternal",
}
POSTING = ("post", "reply")  # chat.postMessage: what Slack's per-channel limit counts
PACED = (*POSTING, "upload")  # a shared file is a message in the channel too
MAX_BACKOFF = timedelta(minutes=5)
METADATA_EVENT = "chatops_outbox"

PACE_PER_SECOND = 1.0  # Slack: about one message per second per channel
PACE_BURST = 3.0  # short bursts are tolerated (the emulator's bucket holds 3)
# Tokens only P0/P1 posts may spend: one post, plus a quarter second of slack for the
# network and clock jitter between our bucket and Slack's.
PACE_RESERVE = 1.25
URGENT_PRIORITY = 1  # outbox priorities 0 (P0) and 1 (P1) may spend the reserve
PER_CHANNEL = 5  # rows per channel considered in one pass
CONCURRENCY = 16  # channels sent to at the same time
RECOVER_EVERY = 2.0  # seconds between looks for claims left by dead replicas
LOOKUP_WINDOW = timedelta(minutes=10)  # history searched for a post of a dead replica
MAX_LOOKUP_FAILURES = 3  # recovery rounds (RECOVER_EVERY apart) before sending unchecked

# Called with the rows just claimed, in the claiming transaction, before they are sent: a
# row may be queued as "changed" and given its content only now (bot/storm.py's summary).
Prepare = Callable[[AsyncSession, Sequence[OutboxEntry]], Awaitable[None]]


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


class Pacer:
    """Per-channel token buckets for chat.postMessage, on from a channel's first post.

    Low-priority posts leave `PACE_RESERVE` tokens in the bucket; urgent ones may take
    the last token. After a 429 the bucket is empty until `Retry-After` ends, then holds
    one token (what Slack has refilled), so the next urgent post goes first and the
    backlog resumes only once the reserve has refilled.
    """

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        self._blocked: dict[str, float] = {}  # channel -> Retry-After ends

    def available(self, channel: str, now: float) -> float:
        if self._blocked.get(channel, 0.0) > now:
            return 0.0
        tokens, at = self._buckets.get(channel, (PACE_BURST, now))
        return min(PACE_BURST, tokens + max(0.0, now - at) * PACE_PER_SECOND)

    @staticmethod
    def needed(urgent: bool) -> float:
        return 1.0 if urgent else 1.0 + PACE_RESERVE

    def can_take(self, channel: str, now: float, *, urgent: bool) -> bool:
        return self.available(channel, now) >= self.needed(urgent)

    def take(self, channel: str, now: float) -> None:
        self._buckets[channel] = (self.available(channel, now) - 1.0, now)

    def ready_at(self, channel: str, now: float, *, urgent: bool = False) -> float:
        """When the channel can take a post of this urgency."""
        blocked = self._blocked.get(channel, 0.0)
        start = max(now, blocked)
        missing = self.needed(urgent) - self.available(channel, start)
        return start if missing <= 0 else start + missing / PACE_PER_SECOND

    def throttled(self, channel: str, now: float, retry_after: float) -> None:
        ends = now + retry_after
        self._blocked[channel] = ends
        self._buckets[channel] = (1.0, ends)


@dataclass
class _Outcome:
    row: OutboxEntry
    state: str  # sent | pending | failed | released
    error: str | None = None
    not_before: datetime | None = None
    attempt: bool = False
    result: dict[str, Any] = field(default_factory=dict)


class Outbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: AsyncWebClient,
        clock: Clock,
        metrics: Metrics,
        *,
        batch: int = 200,
        prepare: Prepare | None = None,
    ) -> None:
        self._sessions = sessions
        self._prepare = prepare
        self._client = client
        self._clock = clock
        self._metrics = metrics
        self._batch = batch
        self._wake = asyncio.Event()
        self.replica = Replica(sessions.kw["bind"])
        self.pacer = Pacer()
        self._next_at: float | None = None
        self._recovered_at = -math.inf
        self._gauges_at = -math.inf

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
            timeout = poll_interval
            if self._next_at is not None:
                timeout = min(timeout, max(0.01, self._next_at - self._now()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except TimeoutError:
                pass

    async def drain(self, max_passes: int = 1000, *, paced: bool = True) -> None:
        """Send everything that is due now (tests, shutdown).

        Called with the `run` loop stopped, so this replica's own rows still `sending`
        were cut off mid-call: they are looked up like a dead replica's first. `paced=False`
        is for tests on a clock that only moves when told to, where a paced channel would
        wait forever (a row Slack answered 429 still waits out its `Retry-After`). Paced,
        it waits for the channel's next slot when that is due within two seconds.
        """
        await self.recover(include_own=True)
        for _ in range(max_passes):
            if await self.drain_once(paced=paced):
                continue
            if not paced or self._next_at is None or self._next_at > self._now() + 2.0:
                return
            await asyncio.sleep(max(0.01, self._next_at - self._now()))  # a paced post

    async def close(self) -> None:
        await self.replica.close()

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def drain_once(self, *, paced: bool = True) -> int:
        """One pass over due rows; returns how many rows changed state."""
        await self.replica.ensure()
        if time.monotonic() - self._recovered_at >= RECOVER_EVERY:
            self._recovered_at = time.monotonic()
            await self.recover()
        rows, parents = await self._claim(paced)
        if not rows:
            await self.update_gauges()  # idle: exact figures; busy: once a second
            return 0
        by_channel: dict[str, list[OutboxEntry]] = {}
        for row in rows:  # already in priority order: the most urgent channel starts first
            by_channel.setdefault(row.channel, []).append(row)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def channel_worker(channel_rows: list[OutboxEntry]) -> list[_Outcome]:
            async with gate:
                return await self._send_channel(channel_rows, parents)

        results = await asyncio.gather(*(channel_worker(r) for r in by_channel.values()))
        outcomes = [outcome for group in results for outcome in group]
        await self._record(outcomes)
        await self._gauges()
        return sum(1 for o in outcomes if o.state != "released")

    # -- choosing and claiming ------------------------------------------------------

    async def _claim(
        self, paced: bool = True
    ) -> tuple[list[OutboxEntry], dict[str, tuple[str, str] | None]]:
        now_dt = self._clock.now()
        now = now_dt.timestamp()
        rank = (
            func.row_number()
            .over(
                partition_by=OutboxEntry.channel,
                order_by=(OutboxEntry.priority, OutboxEntry.id),
            )
            .label("rank")
        )
        due = (
            select(
                OutboxEntry.id,
                OutboxEntry.channel,
                OutboxEntry.op,
                OutboxEntry.priority,
                OutboxEntry.message_key,
                rank,
            )
            .where(OutboxEntry.state == "pending", OutboxEntry.not_before <= now_dt)
            .subquery()
        )
        async with self._sessions() as session:
            candidates = (
                await session.execute(
                    select(due.c.id, due.c.channel, due.c.op, due.c.priority, due.c.message_key)
                    .where(due.c.rank <= PER_CHANNEL)
                    .order_by(due.c.priority, due.c.id)
                    .limit(self._batch)
                )
            ).all()
            if not candidates:
                later = await session.scalar(
                    select(func.min(OutboxEntry.not_before)).where(OutboxEntry.state == "pending")
                )
                self._next_at = later.timestamp() if later is not None else None
                return [], {}
        picked: list[int] = []
        stopped: set[str] = set()
        next_at: float | None = None
        for row_id, channel, op, priority, key in candidates:
            if channel in stopped:
                continue
            if op in PACED:
                urgent = _urgent(priority, key)
                if paced and not self.pacer.can_take(channel, now, urgent=urgent):
                    stopped.add(channel)  # keep the channel's order: nothing jumps ahead
                    ready = self.pacer.ready_at(channel, now, urgent=urgent)
                    next_at = ready if next_at is None else min(next_at, ready)
                    continue
                self.pacer.take(channel, now)
            picked.append(row_id)
        self._next_at = next_at
        if not picked:
            return [], {}
        async with self._sessions.begin() as session:
            claimed = set(
                (
                    await session.scalars(
                        update(OutboxEntry)
                        .where(OutboxEntry.id.in_(picked), OutboxEntry.state == "pending")
                        .values(state="sending", claimed_by=self.replica.id, claimed_at=now_dt)
                        .returning(OutboxEntry.id)
                    )
                ).all()
            )
            if not claimed:
                return [], {}
            rows = (
                await session.scalars(
                    select(OutboxEntry)
                    .where(OutboxEntry.id.in_(claimed))
                    .order_by(OutboxEntry.priority, OutboxEntry.id)
                )
            ).all()
            if self._prepare is not None:
                await self._prepare(session, rows)
                await session.flush()  # what is sent is what the row records
            parents = await _parents(session, rows)
            session.expunge_all()
        return list(rows), parents

    # -- sending --------------------------------------------------------------------

    async def _send_channel(
        self, rows: list[OutboxEntry], parents: dict[str, tuple[str, str] | None]
    ) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        for index, row in enumerate(rows):
            try:
                result = await self._send(row, parents)
            except _Waiting:
                outcomes.append(_Outcome(row, "released"))
                continue
            except _Retry as retry:
                outcomes.append(
                    _Outcome(
                        row,
                        "pending",
                        error=retry.reason,
                        not_before=self._clock.now() + retry.after,
                        attempt=True,
                    )
                )
                if retry.reason == "ratelimited":
                    self.pacer.throttled(row.channel, self._now(), retry.after.total_seconds())
                    # The rest of this channel waits its turn; other channels go on.
                    outcomes.extend(_Outcome(r, "released") for r in rows[index + 1 :])
                    break
                continue
            except _Permanent as exc:
                log.error("Slack refused %s to %s for good: %s", row.op, row.channel, exc)
                outcomes.append(_Outcome(row, "failed", error=str(exc), attempt=True))
                continue
            if row.op == "post" and row.message_key and result.get("ts"):
                parents[row.message_key] = (str(result.get("channel") or row.channel), result["ts"])
            outcomes.append(_Outcome(row, "sent", result=result))
        return outcomes

    async def _send(
        self, row: OutboxEntry, parents: dict[str, tuple[str, str] | None]
    ) -> dict[str, Any]:
        if row.op == "upload":
            return await self._upload(row, parents)
        payload = dict(row.payload)
        args: dict[str, Any] = {"channel": row.channel, "text": payload.get("text", "")}
        if payload.get("blocks"):
            args["blocks"] = payload["blocks"]
        if row.op == "post" and payload.get("thread_ts"):
            # A message of its own (own key, updated in place) posted in a thread.
            args["thread_ts"] = payload["thread_ts"]
        if row.op in ("update", "reply") or (row.op == "ephemeral" and row.message_key):
            channel, ts = _parent(row, parents)
            args["channel"] = channel
            if row.op == "update":
                args["ts"] = ts
            else:
                args["thread_ts"] = ts
        if row.op == "ephemeral":
            args["user"] = payload["user"]
        if row.op in POSTING:
            args["metadata"] = {
                "event_type": METADATA_EVENT,
                "event_payload": {"outbox_id": row.id},
            }
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

    async def _upload(
        self, row: OutboxEntry, parents: dict[str, tuple[str, str] | None]
    ) -> dict[str, Any]:
        payload = dict(row.payload)
        channel, thread_ts = row.channel, None
        if row.message_key:
            channel, thread_ts = _parent(row, parents)
        async with self._sessions() as session:
            content = await session.scalar(
                select(OutboxFile.content).where(OutboxFile.id == payload.get("file"))
            )
        if not content:
            raise _Permanent("the file to upload is missing from outbox_files")
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
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._metrics.slack_calls.labels(method, "network_error").inc()
            raise _Retry(backoff(row.attempts), f"network error: {type(exc).__name__}") from exc
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
            seconds = _retry_after({"Retry-After": retry_after})
            raise _Retry(timedelta(seconds=seconds), "ratelimited")
        if status >= 500:
            self._metrics.slack_calls.labels("upload", "server_error").inc()
            raise _Retry(backoff(attempts), f"the upload URL answered {status}")
        self._metrics.slack_calls.labels("upload", "error").inc()
        raise _Permanent(f"the upload URL answered {status}")

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

    # -- recording ------------------------------------------------------------------

    async def _record(self, outcomes: Sequence[_Outcome], owner: str | None = None) -> None:
        """Every outcome of a pass in one transaction, each only while still our claim."""
        if not outcomes:
            return
        now = self._clock.now()
        owner = owner or self.replica.id
        params = []
        messages = []
        for o in outcomes:
            sent = o.state == "sent"
            params.append(
                {
                    "b_id": o.row.id,
                    "b_state": "pending" if o.state == "released" else o.state,
                    "b_error": o.error,
                    "b_inc": 1 if (o.attempt or sent) else 0,
                    "b_not_before": o.not_before or o.row.not_before,
                    "b_sent_at": now if sent else None,
                }
            )
            if sent and o.row.op == "post" and o.row.message_key and o.result.get("ts"):
                messages.append(
                    {
                        "key": o.row.message_key,
                        "channel": str(o.result.get("channel") or o.row.channel),
                        "ts": str(o.result["ts"]),
                        "created_at": now,
                    }
                )
        table = cast(Table, OutboxEntry.__table__)
        statement = (
            update(table)
            .where(
                table.c.id == bindparam("b_id"),
                table.c.state == "sending",
                table.c.claimed_by == owner,
            )
            .values(
                state=bindparam("b_state"),
                # The last error stays after a success: a channel's recent 429s are what
                # lets storm mode start there (bot/outbox_queue.channel_backlog).
                last_error=func.coalesce(bindparam("b_error"), table.c.last_error),
                attempts=table.c.attempts + bindparam("b_inc"),
                not_before=bindparam("b_not_before"),
                sent_at=bindparam("b_sent_at"),
                claimed_by=None,
            )
        )
        async with self._sessions.begin() as session:
            await session.connection()
            await session.execute(statement, params)
            if messages:
                insert = (
                    postgresql.insert
                    if session.get_bind().dialect.name == "postgresql"
                    else sqlite.insert
                )
                await session.execute(
                    insert(SlackMessage).on_conflict_do_nothing(index_elements=["key"]),
                    messages,
                )

    async def _gauges(self) -> None:
        if time.monotonic() - self._gauges_at < 1.0:
            return
        self._gauges_at = time.monotonic()
        await self.update_gauges()

    async def update_gauges(self) -> None:
        async with self._sessions() as session:
            counts = dict(
                (
                    await session.execute(
                        select(OutboxEntry.state, func.count())
                        .where(OutboxEntry.state.in_(("pending", "sending", "failed")))
                        .group_by(OutboxEntry.state)
                    )
                ).all()
            )
            oldest = await session.scalar(
                select(func.min(OutboxEntry.created_at)).where(
                    OutboxEntry.state.in_(("pending", "sending"))
                )
            )
        self._metrics.outbox_depth.set(counts.get("pending", 0) + counts.get("sending", 0))
        self._metrics.outbox_failed.set(counts.get("failed", 0))
        age = (self._clock.now() - oldest).total_seconds() if oldest else 0.0
        self._metrics.outbox_oldest_seconds.set(max(age, 0.0))

    # -- recovery -------------------------------------------------------------------

    async def recover(self, *, include_own: bool = False) -> int:
        """Take back rows claimed by replicas that are gone; returns how many."""
        async with self._sessions() as session:
            owners = {
                owner
                for owner in (
                    await session.scalars(
                        select(OutboxEntry.claimed_by)
                        .where(OutboxEntry.state == "sending")
                        .distinct()
                    )
                ).all()
                if owner is not None
            }
            if not include_own:
                owners.discard(self.replica.id)
            if not owners:
                return 0
            dead = owners - (await self.replica.alive(session, owners) - {self.replica.id})
            if not include_own:
                dead.discard(self.replica.id)
            if not dead:
                return 0
            rows = (
                await session.scalars(
                    select(OutboxEntry)
                    .where(OutboxEntry.state == "sending", OutboxEntry.claimed_by.in_(dead))
                    .order_by(OutboxEntry.id)
                )
            ).all()
            parents = await _parents(session, rows)
            session.expunge_all()
        recovered = 0
        for row in rows:
            owner = row.claimed_by or ""
            try:
                found = await self._look_up(row, parents)
            except Exception as exc:
                if not await self._give_up_looking(row, owner, exc):
                    continue
                found = None
            outcome = _Outcome(row, "sent", result=found) if found else _Outcome(row, "released")
            await self._record([outcome], owner=owner)
            recovered += 1
            log.info(
                "recovered outbox row %s of a stopped replica: %s",
                row.id,
                "already in Slack" if found else "sending again",
            )
        self._metrics.outbox_recovered.inc(recovered)
        return recovered

    async def _give_up_looking(self, row: OutboxEntry, owner: str, exc: Exception) -> bool:
        """Count a failed lookup of `row`; True when it is to be sent again unchecked."""
        reason = _slack_error(exc)
        async with self._sessions.begin() as session:
            failures = await session.scalar(
                update(OutboxEntry)
                .where(
                    OutboxEntry.id == row.id,
                    OutboxEntry.state == "sending",
                    OutboxEntry.claimed_by == owner,
                )
                .values(lookup_failures=OutboxEntry.lookup_failures + 1)
                .returning(OutboxEntry.lookup_failures)
            )
        if failures is None:
            return False  # another replica took it back meanwhile
        if failures < MAX_LOOKUP_FAILURES:
            log.warning(
                "could not look up outbox row %s in Slack (%s, %d of %d); trying again",
                row.id,
                reason,
                failures,
                MAX_LOOKUP_FAILURES,
            )
            return False
        log.warning(
            "could not look up outbox row %s of a stopped replica in Slack %d times (%s): "
            "sending it again unchecked, it may show twice",
            row.id,
            failures,
            reason,
        )
        self._metrics.outbox_unverified.inc()
        return True

    async def _look_up(
        self, row: OutboxEntry, parents: dict[str, tuple[str, str] | None]
    ) -> dict[str, Any] | None:
        """The message a dead replica may have posted for `row`, found by its metadata."""
        if row.op not in POSTING:
            return None  # updates are idempotent; an ephemeral cannot be looked up
        if row.op == "reply":
            try:
                channel, ts = _parent(row, parents)
            except (_Waiting, _Permanent):
                return None
            response = await self._client.conversations_replies(
                channel=channel, ts=ts, include_all_metadata=True, limit=1000
            )
            return _match(response.data, row.id, channel)
        since = (row.claimed_at or row.created_at) - LOOKUP_WINDOW
        cursor = None
        for _ in range(10):
            kwargs: dict[str, Any] = {
                "channel": row.channel,
                "oldest": f"{max(since.timestamp(), 0):.6f}",
                "limit": 200,
                "include_all_metadata": True,
            }
            if cursor:
                kwargs["cursor"] = cursor
            response = await self._client.conversations_history(**kwargs)
            found = _match(response.data, row.id, row.channel)
            if found is not None:
                return found
            data = response.data if isinstance(response.data, dict) else {}
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not data.get("has_more") or not cursor:
                return None
        return None


def _urgent(priority: int, message_key: str | None) -> bool:
    """Whether a post may spend its channel's reserve: a P0/P1 group's own messages and
    threads. A storm summary sits at P1 in the queue (ahead of the backlog it replaces) but
    leaves the reserve to the P0 that may come next."""
    return priority <= URGENT_PRIORITY and not (message_key or "").startswith("storm:")


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


async def _parents(
    session: AsyncSession, rows: Sequence[OutboxEntry]
) -> dict[str, tuple[str, str] | None]:
    """Where the messages these rows depend on live; None when their post failed for good."""
    keys = {r.message_key for r in rows if r.message_key and r.op != "post"}
    if not keys:
        return {}
    found: dict[str, tuple[str, str] | None] = {
        m.key: (m.channel, m.ts)
        for m in (await session.scalars(select(SlackMessage).where(SlackMessage.key.in_(keys))))
    }
    missing = keys - found.keys()
    if missing:
        failed = await session.scalars(
            select(OutboxEntry.message_key).where(
                OutboxEntry.message_key.in_(missing),
                OutboxEntry.op == "post",
                OutboxEntry.state == "failed",
            )
        )
        for key in failed:
            if key is not None:
                found[key] = None
    return found


def _parent(row: OutboxEntry, parents: dict[str, tuple[str, str] | None]) -> tuple[str, str]:
    key = row.message_key or ""
    if key not in parents:
        raise _Waiting()
    where = parents[key]
    if where is None:
        raise _Permanent(f"the message {key} it belongs to could not be posted")
    return where


def _slack_error(exc: Exception) -> str:
    """Slack's error word (missing_scope, not_in_channel...), else the exception's type."""
    if isinstance(exc, SlackApiError) and hasattr(exc.response, "get"):
        return str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
    return type(exc).__name__


def _retry_after(headers: Any) -> float:
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        return max(float(value), 1.0)
    except (TypeError, ValueError, AttributeError):
        return 1.0

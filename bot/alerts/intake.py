"""Alertmanager intake: store every webhook body first, answer, process later.

The webhook handler only validates and stores (so a 2xx means "it is in the database");
`DeliveryProcessor` (bot/alerts/processor.py) then turns stored deliveries into group
state. Bodies are stored with group commit, so one transaction serves many requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts.alertmanager import group_key_digest
from alerts.config import AlertsConfig
from alerts.policy import priority_of
from bot.alerts.groups import priority_rank
from bot.clock import Clock
from bot.storage.models import WebhookDelivery


def delivery_priority(body: dict[str, Any], config: AlertsConfig | None) -> int | None:
    """The most urgent priority among a notification's firing alerts (0 for P0)."""
    if config is None:
        return None
    alerts = [a for a in body.get("alerts") or [] if isinstance(a, dict)]
    firing = [a for a in alerts if a.get("status") == "firing"] or alerts
    ranks = [
        priority_rank(priority_of(_text_labels(a["labels"]), config))
        for a in firing
        if isinstance(a.get("labels"), dict)
    ]
    return min(ranks) if ranks else None


def _text_labels(labels: dict[str, Any]) -> dict[str, str]:
    # The reader takes numbers as label values (`severity: 2`); so must this.
    return {str(k): str(v) for k, v in labels.items() if isinstance(v, str | int | float)}


# (source, body, group key digest, the caller's future)
_Stored = tuple[str, dict[str, Any], str | None, "asyncio.Future[int]"]


class IntakeWriter:
    """Stores webhook bodies with group commit: one transaction for every body that
    arrived while the previous transaction was committing.

    Each caller still waits until its own row is committed before answering 2xx, so
    nothing answered is lost; under load, one commit serves many requests, which is what
    lets a single SQLite file accept thousands of alerts per second.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        max_batch: int = 500,
        config: AlertsConfig | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._config = config
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Stored] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0

    @property
    def busy(self) -> bool:
        """Webhook requests are waiting for their commit right now."""
        return self._in_flight > 0

    async def store(
        self, source: str, body: dict[str, Any], *, group_key: str | None = None
    ) -> int:
        """Commit one body; `group_key` is the digest of its group (by default, of the
        body's groupKey)."""
        if group_key is None and isinstance(body.get("groupKey"), str) and body["groupKey"]:
            group_key = group_key_digest(body["groupKey"])
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="intake-writer")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._in_flight += 1
        try:
            await self._queue.put((source, body, group_key, future))
            return await future
        finally:
            self._in_flight -= 1

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                ids = await self._write(batch)
            except Exception as exc:  # every waiter answers 5xx; Alertmanager retries
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (*_, future), delivery_id in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(delivery_id)

    async def _write(self, batch: list[_Stored]) -> list[int]:
        now = self._clock.now()
        rows = [
            {
                "source": source,
                "received_at": now,
                "body": body,
                "state": "pending",
                "priority": delivery_priority(body, self._config),
                "group_key": group_key,
                "attempts": 0,
            }
            for source, body, group_key, _ in batch
        ]
        async with self._sessions.begin() as session:
            # One INSERT ... RETURNING for the batch. Asked to return ids in the rows'
            # order, SQLite (which cannot promise that order) gets one INSERT per row, a
            # round trip each through aiosqlite's thread; its ids are handed out in the
            # order the rows are inserted, so there the sorted ids are the rows' ids.
            in_order = session.bind is None or session.bind.dialect.name != "sqlite"
            ids = list(
                await session.scalars(
                    insert(WebhookDelivery).returning(
                        WebhookDelivery.id, sort_by_parameter_order=in_order
                    ),
                    rows,
                )
            )
        return ids if in_order else sorted(ids)

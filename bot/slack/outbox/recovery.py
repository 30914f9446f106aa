"""Recovery: rows left `sending` by a replica that stopped (see bot/replicas/claims.py).

Exactly once towards Slack: every post carries message metadata naming its outbox row.
Such a row is looked up in the channel's history (or thread) before it is sent again:
found, it is recorded as sent; not found, it goes back to `pending`. The residual window
is a post Slack accepted but has not yet made visible to conversations.history when the
lookup runs, and an ephemeral message (which cannot be looked up) sent just before a
crash. An upload completed by a replica that died before recording it is shared again.

A lookup that keeps failing (`missing_scope` when the app lacks channels:history,
`not_in_channel`, `channel_not_found`, or Slack being down) must not leave the row, maybe
a P0, unsent for ever: after `MAX_LOOKUP_FAILURES` failed lookups the row is sent again
unchecked, logged as a possible duplicate and counted in
`chatops_outbox_resent_unverified_total`. A duplicate is better than a lost page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.metrics import Metrics
from bot.replicas.claims import Replica
from bot.slack.outbox.lookup import PostFinder
from bot.slack.outbox.parents import Parents, load_parents
from bot.slack.outbox.recording import Outcome, Recorder
from bot.storage.models import OutboxEntry

log = logging.getLogger(__name__)

RECOVER_EVERY = 2.0  # seconds between looks for claims left by dead replicas
MAX_LOOKUP_FAILURES = 3  # recovery rounds (RECOVER_EVERY apart) before sending unchecked


class Recovery:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: AsyncWebClient,
        metrics: Metrics,
        replica: Replica,
        recorder: Recorder,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._metrics = metrics
        self._replica = replica
        self._recorder = recorder
        self._finder = PostFinder(client)

    async def recover(self, *, include_own: bool = False) -> int:
        """Take back rows claimed by replicas that are gone; returns how many."""
        rows, parents = await self._orphaned(include_own)
        recovered = 0
        for row in rows:
            owner = row.claimed_by or ""
            try:
                found = await self._finder.find(row, parents)
            except Exception as exc:
                if not await self._give_up_looking(row, owner, exc):
                    continue
                found = None
            outcome = Outcome(row, "sent", result=found) if found else Outcome(row, "released")
            await self._recorder.record([outcome], owner=owner)
            recovered += 1
            log.info(
                "recovered outbox row %s of a stopped replica: %s",
                row.id,
                "already in Slack" if found else "sending again",
            )
        self._metrics.outbox_recovered.inc(recovered)
        return recovered

    async def _orphaned(self, include_own: bool) -> tuple[Sequence[OutboxEntry], Parents]:
        """The rows claimed by replicas that are gone (and this one's, with `include_own`)."""
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
                owners.discard(self._replica.id)
            if not owners:
                return [], {}
            dead = owners - (await self._replica.alive(session, owners) - {self._replica.id})
            if not include_own:
                dead.discard(self._replica.id)
            if not dead:
                return [], {}
            rows = (
                await session.scalars(
                    select(OutboxEntry)
                    .where(OutboxEntry.state == "sending", OutboxEntry.claimed_by.in_(dead))
                    .order_by(OutboxEntry.id)
                )
            ).all()
            parents = await load_parents(session, rows)
            session.expunge_all()
        return rows, parents

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


def _slack_error(exc: Exception) -> str:
    """Slack's error word (missing_scope, not_in_channel...), else the exception's type."""
    if isinstance(exc, SlackApiError) and hasattr(exc.response, "get"):
        return str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
    return type(exc).__name__

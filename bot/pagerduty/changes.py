"""PagerDuty change events for the operations the bot ran: queued with the operation's end,
delivered by the timer holder beside the pages.

Every deploy, shift and rollback that ended (a rollback after a failed bake included)
becomes one row in `pagerduty_changes`, written in the transaction that records the end,
so a crash after it loses nothing. Delivery claims a row (`sending`) before the call and
records the answer after it: 429/5xx wait with backoff, a 4xx fails for good. A change
event has no dedup_key, so PagerDuty cannot fold a repeat; the one window left is a
process that dies between PagerDuty's 202 and our commit, after which the row is sent
again (`recover`), a duplicate line in "recent changes" rather than a lost one. The
routing key is the service's (`deploy.services.<name>.pagerduty_routing_key`) or
PAGERDUTY_ROUTING_KEY, read when sending; with neither, nothing is queued.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.pagerduty import PagerError, TemporaryPagerError
from actions.pagerduty.changes import ChangeEvent, send_change
from actions.pagerduty.events import Link, backoff
from bot.approvals.ids import subject
from bot.audit import trail
from bot.clock import Clock
from bot.config import Config
from bot.pagerduty.models import PagerDutyChange
from bot.settings import Settings
from commands.changes import FinishedChange, change_summary

log = logging.getLogger(__name__)

SOURCE = "chatops"
BATCH = 100


def routing_key_for(service: str, config: Config, settings: Settings) -> str | None:
    spec = config.deploy.services.get(service)
    if spec is not None and spec.pagerduty_routing_key:
        return spec.pagerduty_routing_key
    secret = settings.pagerduty_routing_key
    return secret.get_secret_value() if secret is not None and secret.get_secret_value() else None


def change_payload(change: FinishedChange) -> dict[str, object]:
    return {
        "summary": change_summary(change),
        "timestamp": change.finished_at.isoformat(),
        "source": SOURCE,
        "custom_details": {
            "service": change.service,
            "environment": change.environment,
            "operation": change.kind,
            "outcome": change.outcome,
            "result": change.result,
            "requested_by": change.requester,
            "approved_by": list(change.approvers),
            "before": change.before,
            "planned": change.planned,
            "started_at": change.started_at.isoformat() if change.started_at else None,
            "approval_request": change.request_id,
            "slack_channel": change.channel,
        },
        # Slack's documented deep link: opens the channel the approval message is in.
        "links": [
            {
                "href": f"https://slack.com/app_redirect?channel={change.channel}",
                "text": f"Approval request {change.request_id} in Slack",
            }
        ],
    }


class ChangeEvents:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        settings: Settings,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._settings = settings
        self._clock = clock
        self._http: aiohttp.ClientSession | None = None

    def start(self, http: aiohttp.ClientSession) -> None:
        self._http = http

    def use_settings(self, settings: Settings) -> None:
        self._settings = settings

    async def record(self, session: AsyncSession, change: FinishedChange) -> None:
        """The operations feature's ChangeListener: queue in the caller's transaction."""
        if routing_key_for(change.service, self._config, self._settings) is None:
            return  # PagerDuty is not used for this service
        session.add(
            PagerDutyChange(
                service=change.service,
                payload=change_payload(change),
                state="pending",
                attempts=0,
                not_before=change.finished_at,
                created_at=change.finished_at,
            )
        )

    async def recover(self) -> None:
        """Rows a stopped timer holder left `sending` go again (see the module docstring)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(PagerDutyChange)
                .where(PagerDutyChange.state == "sending")
                .values(state="pending")
            )

    async def drain(self) -> int:
        sent = 0
        while True:
            rows = await self._claim()
            for row in rows:
                error = await self._deliver(row)
                await self._finish(row, error, self._clock.now())
                sent += 1
            if len(rows) < BATCH:
                return sent

    async def _claim(self) -> list[PagerDutyChange]:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            rows = list(
                (
                    await session.scalars(
                        select(PagerDutyChange)
                        .where(
                            PagerDutyChange.state == "pending",
                            PagerDutyChange.not_before <= now,
                        )
                        .order_by(PagerDutyChange.id)
                        .limit(BATCH)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            for row in rows:
                row.state = "sending"
            await session.flush()
            session.expunge_all()
        return rows

    async def _deliver(self, row: PagerDutyChange) -> PagerError | None:
        key = routing_key_for(row.service, self._config, self._settings)
        if key is None or self._http is None:
            return TemporaryPagerError("no PagerDuty routing key or client yet")
        payload = row.payload
        event = ChangeEvent(
            routing_key=key,
            summary=str(payload["summary"]),
            timestamp=str(payload["timestamp"]),
            source=str(payload["source"]),
            custom_details=dict(payload["custom_details"]),
            links=tuple(Link(link["href"], link.get("text")) for link in payload["links"]),
        )
        try:
            await send_change(self._http, self._settings.pagerduty_events_url, event)
        except PagerError as exc:
            return exc
        return None

    async def _finish(self, row: PagerDutyChange, error: PagerError | None, now: datetime) -> None:
        async with self._sessions.begin() as session:
            stored = await session.get(PagerDutyChange, row.id)
            if stored is None:
                return
            stored.attempts += 1
            request = str(stored.payload["custom_details"].get("approval_request", ""))
            if error is None:
                stored.state, stored.sent_at, stored.last_error = "sent", now, None
                trail.record(
                    session,
                    at=now,
                    actor=trail.SYSTEM,
                    action="pagerduty.change",
                    subject=subject(request),
                    summary=stored.payload["summary"],
                    attempts=stored.attempts,
                )
            elif isinstance(error, TemporaryPagerError):
                delay = max(error.retry_after or 0.0, backoff(stored.attempts))
                stored.state, stored.last_error = "pending", error.message
                stored.not_before = now + timedelta(seconds=delay)
                log.warning("change event %s not delivered yet: %s", stored.id, error.message)
            else:
                stored.state, stored.last_error = "failed", error.message
                log.error("change event %s refused for good: %s", stored.id, error.message)

"""Which PagerDuty events were applied already, and whether one is older news.

PagerDuty v3 signatures sign the body only, with no time in them: a captured event
verifies forever. Two checks keep a replay, or a late or out-of-order delivery, from
changing anything: the event's id is recorded for as long as its incident is kept (a
second delivery of the id is answered 2xx and not applied), and an incident event that
occurred before the last one applied to its incident is not applied either.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.pagerduty import PagerDutyWebhook
from bot.pagerduty.models import PagerDutyEventReceipt, PagerDutyIncident


async def first_delivery(session: AsyncSession, hook: PagerDutyWebhook, now: datetime) -> bool:
    """Record the event's id; False when it was recorded before (a retry or a replay)."""
    event_id = hook.event.id[:64]
    if await session.get(PagerDutyEventReceipt, event_id) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(
                PagerDutyEventReceipt(
                    event_id=event_id,
                    incident_id=(hook.incident_id or "")[:64],
                    occurred_at=hook.event.occurred_at,
                    received_at=now,
                )
            )
    except IntegrityError:  # the other replica recorded it first
        return False
    return True


def older_than_last_change(row: PagerDutyIncident | None, hook: PagerDutyWebhook) -> bool:
    """Whether an incident event occurred before the last one applied to its incident.

    PagerDuty does not promise delivery in order, and retries late: applying an older
    `incident.acknowledged` after a newer `incident.unacknowledged` would stop an
    escalation that PagerDuty says is running. Events without a usable `occurred_at`
    cannot be ordered and are applied (their receipt still stops a second delivery).
    """
    occurred = hook.event.occurred_at
    if row is None or row.changed_at is None or occurred is None or hook.incident is None:
        return False
    return _aware(occurred) < row.changed_at


def note_change(row: PagerDutyIncident, hook: PagerDutyWebhook) -> None:
    """Remember when the incident event just applied occurred (the newest so far)."""
    occurred = hook.event.occurred_at
    if hook.incident is None or occurred is None:
        return
    occurred = _aware(occurred)
    if row.changed_at is None or occurred > row.changed_at:
        row.changed_at = occurred


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

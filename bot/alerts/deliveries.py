"""What happens to a stored delivery whose processing fails: retry, then keep and announce.

A delivery was answered 2xx, so the sender will not send it again: losing it here would
lose the notification. A failure that is not the database's (a bug on an unusual payload,
a listener that broke) is retried with backoff; while a delivery waits for its retry,
the later deliveries of its group wait too, so one group's notifications are still
applied in order. After `MAX_ATTEMPTS` it is kept as `failed` with its error, and the
route's channel is told once, through the outbox, in the same transaction:
"1 notification from Alertmanager could not be shown: ..., see `chatops deliveries show N`".
`chatops deliveries retry N` (bot/alerts/deliveries_cli.py) queues it again.

A database error is not counted here: the delivery stays pending and the whole pass is
tried again, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import messages as m
from alerts.blocks import clip
from alerts.config import AlertsConfig
from alerts.policy import place, priority_of
from alerts.slack_text import escape
from bot.audit import trail
from bot.slack.outbox_queue import enqueue
from bot.storage.models import WebhookDelivery

MAX_ATTEMPTS = 5  # the first try and four retries, over about half a minute
FIRST_RETRY = timedelta(seconds=2)
MAX_RETRY = timedelta(minutes=5)
MAX_ERROR = 2000
SHOWN_ERROR = 300
SOURCE_NAMES = {"alertmanager": "Alertmanager", "grafana": "Grafana", "pagerduty": "PagerDuty"}


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try."""
    factor: int = 2 ** max(attempts - 1, 0)
    return min(FIRST_RETRY * factor, MAX_RETRY)


def due(now: datetime) -> ColumnElement[bool]:
    """Pending deliveries that may be tried now (not waiting for a retry)."""
    return or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now)


async def held_groups(session: AsyncSession, now: datetime) -> set[str]:
    """Group keys with a delivery waiting for its retry: their later deliveries wait too."""
    keys = await session.scalars(
        select(WebhookDelivery.group_key)
        .where(
            WebhookDelivery.state == "pending",
            WebhookDelivery.next_attempt_at > now,
            WebhookDelivery.group_key.is_not(None),
        )
        .distinct()
    )
    return {key for key in keys if key is not None}


def not_held(keys: set[str]) -> ColumnElement[bool]:
    return or_(WebhookDelivery.group_key.is_(None), WebhookDelivery.group_key.not_in(keys))


@dataclass(frozen=True)
class Failure:
    source: str
    status: str
    final: bool  # kept as failed (else: retried later)


async def record_failure(
    session: AsyncSession,
    delivery: WebhookDelivery,
    error: str,
    config: AlertsConfig,
    now: datetime,
    *,
    retry: bool = True,
) -> Failure:
    """Count a failed try of `delivery`; schedule the next one or keep it as failed.

    `retry=False` is for a delivery that can never succeed (its payload does not parse).
    """
    delivery.attempts = (delivery.attempts or 0) + 1
    delivery.error = error[:MAX_ERROR]
    status = str(delivery.body.get("status", "")) if isinstance(delivery.body, dict) else ""
    if retry and delivery.attempts < MAX_ATTEMPTS:
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
        return Failure(delivery.source, status, final=False)
    delivery.state = "failed"
    delivery.outcome = "error" if retry else "invalid"
    delivery.processed_at = now
    delivery.next_attempt_at = None
    await announce(session, delivery, config, now)
    trail.record(
        session,
        at=now,
        actor=trail.SYSTEM,
        action="delivery.failed",
        subject=f"delivery:{delivery.id}",
        source=delivery.source,
        attempts=delivery.attempts,
        error=delivery.error[:SHOWN_ERROR],
    )
    return Failure(delivery.source, status, final=True)


async def announce(
    session: AsyncSession, delivery: WebhookDelivery, config: AlertsConfig, now: datetime
) -> None:
    """Tell the channel the notification would have gone to that it could not be shown."""
    body = delivery.body if isinstance(delivery.body, dict) else {}
    labels = {**_labels(body.get("groupLabels")), **_labels(body.get("commonLabels"))}
    alerts = [a for a in body.get("alerts") or [] if isinstance(a, dict)]
    priorities = [priority_of(_labels(a.get("labels")), config) for a in alerts]
    placement = place(labels, priorities, config)
    text = m.DELIVERY_FAILED.format(
        source=SOURCE_NAMES.get(delivery.source, delivery.source),
        error=escape(clip(delivery.error or "unknown error", SHOWN_ERROR)),
        id=delivery.id,
    )
    await enqueue(
        session,
        op="post",
        channel=placement.channel,
        payload={"text": text},
        priority=int(placement.priority[1]),
        now=now,
    )


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str | int | float)}


async def requeue(session: AsyncSession, delivery_id: int) -> WebhookDelivery | str:
    """Queue a failed delivery again (`chatops deliveries retry`); a reason when not."""
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        return f"no delivery {delivery_id}"
    if delivery.state == "done":
        return f"delivery {delivery_id} was processed already (outcome {delivery.outcome})"
    delivery.state = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = None
    delivery.outcome = None
    delivery.processed_at = None
    return delivery

"""One Alertmanager notification applied to its alert group, one function per change.

A notification opens a group, updates it, resolves it or fires it again after it was
resolved; each change has its own function here, so what a change does (the thread reply,
the audit event, who is told) is read in one place. Everything runs in the caller's
transaction (bot/alerts/processor.py), so the group, its alerts, outbox entries and audit
events commit together.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import messages as m
from alerts.alertmanager import UNREPORTED, AlertmanagerNotification
from alerts.config import AlertsConfig
from alerts.durations import format_duration
from alerts.policy import Placement, place, priority_of
from bot.alerts import storm
from bot.alerts.events import GroupListener, notify
from bot.alerts.groups import refresh_message, reply
from bot.audit import trail
from bot.storage.models import Alert, AlertGroup

# Groups larger than this are written in parts, so that a 5,000-alert notification does
# not hold the event loop (webhooks, Slack) while SQLAlchemy works through it.
FLUSH_EVERY = 500


@dataclass(frozen=True)
class Arrival:
    """A notification with what it says about its group, worked out once."""

    notification: AlertmanagerNotification
    config: AlertsConfig
    now: datetime
    listeners: Sequence[GroupListener]
    digest: str
    placement: Placement
    # When the group's firing alerts (all of them, if none fires) started.
    earliest: datetime

    @classmethod
    def of(
        cls,
        notification: AlertmanagerNotification,
        config: AlertsConfig,
        now: datetime,
        listeners: Sequence[GroupListener],
        digest: str,
    ) -> Arrival:
        firing = [a for a in notification.alerts if a.status == "firing"] or notification.alerts
        priorities = [priority_of(a.labels, config) for a in firing]
        labels = {**notification.group_labels, **notification.common_labels}
        return cls(
            notification=notification,
            config=config,
            now=now,
            listeners=listeners,
            digest=digest,
            placement=place(labels, priorities, config),
            earliest=min(a.starts_at for a in firing),
        )


# What a batch knows of its groups before it applies them: key digest -> the group, locked,
# or None when there is none yet (see `locked_groups`).
KnownGroups = dict[str, AlertGroup | None]


async def locked_groups(session: AsyncSession, keys: Collection[str]) -> KnownGroups:
    """The groups of `keys` (key digests), locked `FOR UPDATE`, in one query: a batch of
    deliveries reads its groups once instead of once per delivery. Every key is in the
    answer, None for a group that does not exist yet."""
    known: KnownGroups = dict.fromkeys(keys)
    if not known:
        return known
    rows = await session.scalars(
        select(AlertGroup).where(AlertGroup.group_key.in_(list(known))).with_for_update()
    )
    known.update((group.group_key, group) for group in rows)
    return known


async def _locked_group(
    session: AsyncSession, key: str, known: KnownGroups | None
) -> AlertGroup | None:
    if known is not None and key in known:
        return known[key]
    return (
        await session.scalars(
            select(AlertGroup).where(AlertGroup.group_key == key).with_for_update()
        )
    ).first()


async def process_notification(
    session: AsyncSession,
    notification: AlertmanagerNotification,
    config: AlertsConfig,
    now: datetime,
    listeners: Sequence[GroupListener] = (),
    *,
    known: KnownGroups | None = None,
) -> str:
    """Apply one notification to the database; returns the outcome word for the delivery.
    `known` is what `locked_groups` read for the caller's batch."""
    if not notification.alerts:
        return "empty"
    group = await _locked_group(session, notification.key_digest, known)
    digest = notification.digest()
    if group is not None and group.digest == digest:
        return "duplicate"
    arrival = Arrival.of(notification, config, now, listeners, digest)
    if group is None:
        if known is not None:
            # A later delivery of this group in the batch reads the group this one opens.
            known.pop(notification.key_digest, None)
        return await open_group(session, arrival)
    previous = group.status
    back = await take_update(session, group, arrival)
    if previous == "firing" and group.status == "resolved":
        return await resolve_group(session, group, arrival)
    if previous == "resolved" and group.status == "firing":
        return await refire_group(session, group, arrival)
    await notify(listeners, session, group, "updated", now)
    if back:  # firing again for escalation too
        await notify(listeners, session, group, "reported", now)
    await _refresh(session, group, arrival)
    return "updated"


async def open_group(session: AsyncSession, arrival: Arrival) -> str:
    """A group seen for the first time: stored, announced and audited."""
    notification, now = arrival.notification, arrival.now
    group = AlertGroup(
        group_key=notification.key_digest,
        group_key_text=notification.group_key,
        source=notification.source,
        receiver=notification.receiver[:255],
        status=notification.status,
        priority=arrival.placement.priority,
        channel=arrival.placement.channel,
        group_labels=notification.group_labels,
        common_labels=notification.common_labels,
        common_annotations=notification.common_annotations,
        external_url=notification.external_url[:1024],
        digest=arrival.digest,
        first_firing_at=arrival.earliest,
        firing_since=arrival.earliest,
        resolved_at=_resolved_at(notification, now),
        created_at=now,
        updated_at=now,
    )
    session.add(group)
    await session.flush()
    assumed, _ = await _store_alerts(session, group, notification, now, new=True)
    await notify(arrival.listeners, session, group, "opened", now)
    await _refresh(session, group, arrival, first=True)
    await _say_assumed_starts(session, group, assumed, now)
    labels = {**notification.group_labels, **notification.common_labels}
    trail.record(
        session,
        at=now,
        actor=trail.SYSTEM,
        action="alert.opened",
        subject=_subject(group),
        priority=group.priority,
        status=group.status,
        channel=group.channel,
        alertname=labels.get("alertname", ""),
    )
    return "new"


async def take_update(session: AsyncSession, group: AlertGroup, arrival: Arrival) -> int:
    """What every later notification changes, whatever its status: labels, alerts, and a
    priority that may rise (the message stays where it was first posted). Returns how
    many firing alerts Alertmanager reports again after leaving them out."""
    notification = arrival.notification
    group.status = notification.status
    group.digest = arrival.digest
    group.common_labels = notification.common_labels
    group.common_annotations = notification.common_annotations
    group.external_url = notification.external_url[:1024] or group.external_url
    group.updated_at = arrival.now
    if arrival.placement.priority < group.priority:
        group.priority = arrival.placement.priority
    assumed, back = await _store_alerts(session, group, notification, arrival.now)
    await _say_assumed_starts(session, group, assumed, arrival.now)
    return back


async def resolve_group(session: AsyncSession, group: AlertGroup, arrival: Arrival) -> str:
    """A firing group resolved: its thread says for how long it fired."""
    now = arrival.now
    group.resolved_at = _resolved_at(arrival.notification, now)
    await notify(arrival.listeners, session, group, "resolved", now)
    await _refresh(session, group, arrival)
    fired_for = format_duration((group.resolved_at or now) - group.firing_since)
    await reply(session, group, m.THREAD_RESOLVED.format(duration=fired_for), now)
    trail.record(
        session, at=now, actor=trail.SYSTEM, action="alert.resolved", subject=_subject(group)
    )
    return "resolved"


async def refire_group(session: AsyncSession, group: AlertGroup, arrival: Arrival) -> str:
    """A resolved group firing again is a new incident: unacknowledged, out of any storm
    that has ended, and its thread says how long it was quiet."""
    now = arrival.now
    resolved_ago = format_duration(now - (group.resolved_at or now))
    group.firing_since = arrival.earliest
    group.resolved_at = None
    group.acked_by = None
    group.acked_at = None
    await storm.release_after_storm(session, group)
    await notify(arrival.listeners, session, group, "refired", now)
    await _refresh(session, group, arrival)
    await reply(session, group, m.THREAD_REFIRED.format(ago=resolved_ago), now)
    trail.record(
        session, at=now, actor=trail.SYSTEM, action="alert.refired", subject=_subject(group)
    )
    return "refired"


def _subject(group: AlertGroup) -> str:
    return f"alert-group:{group.id}"


async def _refresh(
    session: AsyncSession, group: AlertGroup, arrival: Arrival, *, first: bool = False
) -> None:
    await refresh_message(
        session,
        group,
        arrival.config,
        arrival.now,
        first=first,
        truncated=arrival.notification.truncated_alerts,
    )


def _resolved_at(notification: AlertmanagerNotification, now: datetime) -> datetime | None:
    if notification.status != "resolved":
        return None
    ends = [a.ends_at for a in notification.alerts if a.ends_at is not None]
    return max(ends) if ends else now


async def _store_alerts(
    session: AsyncSession,
    group: AlertGroup,
    notification: AlertmanagerNotification,
    now: datetime,
    *,
    new: bool = False,
) -> tuple[int, int]:
    """Store each alert's latest state; returns how many newly firing alerts came without
    a start time (their start is the time of receipt), and how many firing alerts were
    reported again after being left out (`UNREPORTED`). A `new` group has no alerts to read."""
    existing: dict[str, Alert] = (
        {}
        if new
        else {
            row.fingerprint: row
            for row in (
                await session.scalars(select(Alert).where(Alert.group_id == group.id))
            ).all()
        }
    )
    assumed = back = 0
    for index, alert in enumerate(notification.alerts, start=1):
        if index % FLUSH_EVERY == 0:
            await session.flush()  # a big group is written in parts, so others get turns
        row = existing.get(alert.key)
        starts_at = alert.starts_at
        if alert.starts_at_assumed:
            if row is not None and row.status == alert.status:
                starts_at = row.starts_at  # the first receipt, not this redelivery's
            elif alert.status == "firing":
                assumed += 1
        if row is not None and row.status == UNREPORTED and alert.status == "firing":
            back += 1
        if row is None:
            row = Alert(group_id=group.id, fingerprint=alert.key)
            session.add(row)
            existing[alert.key] = row
        row.status = alert.status
        row.alertname = alert.name[:255]
        row.labels = alert.labels
        row.annotations = alert.annotations
        row.starts_at = starts_at
        row.ends_at = alert.ends_at
        row.generator_url = alert.generator_url
        row.extras = (
            {**alert.extras, "start_assumed": True}
            if alert.starts_at_assumed
            else (alert.extras or None)
        )
        row.updated_at = now
    if not new and notification.truncated_alerts == 0:
        # With truncatedAlerts > 0 the missing ones may be among those left out: keep them.
        reported = {alert.key for alert in notification.alerts}
        for key, row in existing.items():
            if key not in reported and row.status == "firing":
                row.status = UNREPORTED
                row.updated_at = now
    return assumed, back


async def _say_assumed_starts(
    session: AsyncSession, group: AlertGroup, count: int, now: datetime
) -> None:
    if count:
        text = m.THREAD_START_ASSUMED.format(
            count=f"{count:,}", at=now.strftime("%Y-%m-%d %H:%M:%S UTC")
        )
        await reply(session, group, text, now)

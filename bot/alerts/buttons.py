"""What the alert message's buttons do: Acknowledge and Silence 1h.

Each use case re-reads the group from the database (the click may be stale), changes it,
writes an audit event and queues the Slack updates; handlers only ack and call these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.alertmanager import (
    AlertmanagerClient,
    Matcher,
    SilenceError,
    equality_matchers,
    silence_breadth,
)
from alerts import messages as m
from alerts.alertmanager import UNREPORTED
from alerts.config import AlertsConfig
from alerts.durations import format_duration
from alerts.silences import matchers_text, reported_scope
from alerts.slack_text import escape
from bot.alerts.events import GroupListener, notify
from bot.alerts.groups import refresh_message, reply
from bot.audit import trail
from bot.clock import Clock
from bot.storage.models import Alert, AlertGroup


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str = ""


async def acknowledge(
    sessions: async_sessionmaker[AsyncSession],
    config: AlertsConfig,
    clock: Clock,
    *,
    group_id: int,
    user: str,
    listeners: Sequence[GroupListener] = (),
) -> Outcome:
    now = clock.now()
    async with sessions.begin() as session:
        group = await session.get(AlertGroup, group_id, with_for_update=True)
        if group is None:
            return Outcome(False, m.UNKNOWN_GROUP)
        if group.acked_by:
            return Outcome(False, m.THREAD_ALREADY_ACKED.format(user=group.acked_by))
        group.acked_by = user
        group.acked_at = now
        group.updated_at = now
        await notify(listeners, session, group, "acknowledged", now, actor=user)
        await refresh_message(session, group, config, now)
        await reply(session, group, m.THREAD_ACKED.format(user=user), now)
        trail.record(
            session,
            at=now,
            actor=user,
            action="alert.acknowledged",
            subject=f"alert-group:{group.id}",
            via="slack",
        )
    return Outcome(True)


async def silence(
    sessions: async_sessionmaker[AsyncSession],
    alertmanager: AlertmanagerClient | None,
    clock: Clock,
    *,
    group_id: int,
    user: str,
    may_confirm: Callable[[str], Awaitable[bool]],
    duration: timedelta = timedelta(hours=1),
) -> Outcome:
    """Silence the group's alerts: matchers are the labels all of them share. One that
    would reach further (no alertname, or other alerts in Alertmanager match it) is made
    only when the clicker is an approver: their click is the confirmation."""
    now = clock.now()
    async with sessions() as session:
        group = await session.get(AlertGroup, group_id)
        if group is None:
            return Outcome(False, m.UNKNOWN_GROUP)
        alerts = (await session.scalars(select(Alert).where(Alert.group_id == group_id))).all()
        # Alerts Alertmanager no longer reports are muted there already: left out.
        labels, ours, narrowed = reported_scope(
            ((a.fingerprint, a.labels, a.status != UNREPORTED) for a in alerts),
            group.common_labels,
        )
        channel = group.channel
    if alertmanager is None:
        return Outcome(False, m.SILENCE_NOT_CONFIGURED)
    extra = [Matcher(narrowed.varying, narrowed.pattern, is_regex=True)] if narrowed else []
    matchers = [*equality_matchers(labels), *extra]
    try:
        broader = await silence_breadth(alertmanager, labels, ours, extra)
    except SilenceError as exc:
        return Outcome(False, m.SILENCE_FAILED.format(error=escape(str(exc))))
    if broader is not None and not await may_confirm(user):
        return await _refuse_broad(sessions, now, user, group_id, broader, matchers)
    try:
        silence_id = await alertmanager.create_silence(
            matchers,
            starts_at=now,
            ends_at=now + duration,
            created_by=f"slack:{user}",
            comment=f"Silenced from Slack ({channel}) by {user}",
            covers=ours if broader is None else None,  # an approver's broader one stays
        )
    except SilenceError as exc:
        return Outcome(False, m.SILENCE_FAILED.format(error=escape(str(exc))))
    made = _Made(silence_id, matchers, duration, broader or "")
    await _tell_silenced(sessions, group_id, user, made, now)
    return Outcome(True)


async def _refuse_broad(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    user: str,
    group_id: int,
    broader: str,
    matchers: list[Matcher],
) -> Outcome:
    """A silence broader than the group, asked by someone who may not confirm it: audited,
    and the clicker told which matchers reach further and why."""
    async with sessions.begin() as session:
        trail.record(
            session,
            at=now,
            actor=user,
            action="alert.silence.refused",
            subject=f"alert-group:{group_id}",
            reason="broader than the group",
            why=broader,
            matchers=[str(x) for x in matchers],
        )
    shown = matchers_text(matchers)
    return Outcome(False, m.SILENCE_TOO_BROAD.format(matchers=shown, why=broader))


@dataclass(frozen=True)
class _Made:
    silence_id: str
    matchers: list[Matcher]
    duration: timedelta
    broader: str


async def _tell_silenced(
    sessions: async_sessionmaker[AsyncSession],
    group_id: int,
    user: str,
    made: _Made,
    now: datetime,
) -> None:
    """The silence in the group's thread and the audit trail."""
    async with sessions.begin() as session:
        group = await session.get(AlertGroup, group_id)
        assert group is not None
        text = m.THREAD_SILENCED.format(
            user=user,
            duration=format_duration(made.duration),
            silence_id=made.silence_id,
            matchers=matchers_text(made.matchers),
        )
        await reply(session, group, text, now)
        trail.record(
            session,
            at=now,
            actor=user,
            action="alert.silenced",
            subject=f"alert-group:{group.id}",
            silence_id=made.silence_id,
            duration_seconds=int(made.duration.total_seconds()),
            matchers=[str(x) for x in made.matchers],
            broader_than_group=made.broader,
        )

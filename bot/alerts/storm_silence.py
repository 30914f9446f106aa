"""Silence all on a storm summary: one Alertmanager silence, or one per group.

When the groups share labels that name them (same alertname and service, told apart by
one label), a single silence with a regex on that label covers them, matching exactly
what their own silences would (alerts/silences.one_silence_for), and Alertmanager is
asked first whether it would reach any other alert it holds; if so, or when the groups
share no such labels, each group gets its own silence through its single-group use case
(bot/alerts/buttons.silence), with its own broader-than-the-group check and approver.
Either way the audit has one `alert.silenced` event per group.

Replicas: clicks on the same summary are handled one at a time (a PostgreSQL advisory
lock per storm), and a group silenced by the bot less than its silence's length ago is
skipped, so Silence all clicked twice, or on two replicas at once, silences each group
once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.alertmanager import AlertmanagerClient, Matcher, SilenceError, equality_matchers
from alerts import messages as m
from alerts.alertmanager import UNREPORTED
from alerts.durations import format_duration
from alerts.silences import SharedSilence, one_silence_for, shared_labels
from alerts.slack_text import escape, inline_code
from bot.alerts.buttons import Outcome
from bot.alerts.groups import reply
from bot.audit import trail
from bot.clock import Clock
from bot.replicas.claims import xact_lock
from bot.storage.models import Alert, AlertGroup, AuditEvent

OneGroup = Callable[[int, str], Awaitable[Outcome]]
DURATION = timedelta(hours=1)


@contextlib.asynccontextmanager
async def one_click_at_a_time(
    sessions: async_sessionmaker[AsyncSession], local: asyncio.Lock, storm_id: int
) -> AsyncIterator[None]:
    """`local` serialises this process's clicks (all there is on SQLite), the advisory
    lock those of every replica."""
    async with local:
        bind = sessions.kw["bind"]
        if bind.dialect.name != "postgresql":
            yield
            return
        async with sessions.begin() as session:
            await xact_lock(session, f"storm-silence:{storm_id}")
            yield


async def silenced_now(
    sessions: async_sessionmaker[AsyncSession], group_ids: Sequence[int], now: datetime
) -> set[int]:
    """The groups the bot silenced recently enough that the silence still runs."""
    subjects = [f"alert-group:{g}" for g in group_ids]
    async with sessions() as session:
        events = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "alert.silenced",
                    AuditEvent.subject.in_(subjects),
                    AuditEvent.at > now - timedelta(days=1),
                )
            )
        ).all()
    return {
        int(e.subject.removeprefix("alert-group:"))
        for e in events
        if e.at + timedelta(seconds=int(e.details.get("duration_seconds", 0))) > now
    }


async def silence_all(
    sessions: async_sessionmaker[AsyncSession],
    alertmanager: AlertmanagerClient | None,
    clock: Clock,
    *,
    storm_id: int,
    group_ids: Sequence[int],
    user: str,
    one: OneGroup,
    local: asyncio.Lock,
) -> list[Outcome]:
    """Silence the groups, each once; one outcome per silence attempted."""
    async with one_click_at_a_time(sessions, local, storm_id):
        done = await silenced_now(sessions, group_ids, clock.now())
        todo = [g for g in group_ids if g not in done]
        if not todo:
            return []
        together = await _together(sessions, alertmanager, clock, todo, user, storm_id)
        if together is not None:
            return [together]
        return [await one(g, user) for g in todo]


async def _together(
    sessions: async_sessionmaker[AsyncSession],
    alertmanager: AlertmanagerClient | None,
    clock: Clock,
    group_ids: Sequence[int],
    user: str,
    storm_id: int,
) -> Outcome | None:
    """One silence for all of `group_ids`, or None when it is not exactly theirs."""
    if alertmanager is None or len(group_ids) < 2:
        return None
    async with sessions() as session:
        labels, ours, unreported = await _groups_labels(session, group_ids)
    shared = one_silence_for(labels)
    if shared is None or unreported:
        return None  # a group with alerts no longer reported narrows its own silence
    matchers = _matchers(shared)
    now = clock.now()
    try:
        if await alertmanager.fingerprints_matching(matchers) - ours:
            return None  # it would reach other alerts: each group decides on its own
        silence_id = await alertmanager.create_silence(
            matchers,
            starts_at=now,
            ends_at=now + DURATION,
            created_by=f"slack:{user}",
            comment=f"Silenced from Slack (storm {storm_id}, {len(group_ids)} groups) by {user}",
            covers=ours,
        )
    except SilenceError as exc:
        return Outcome(False, m.SILENCE_FAILED.format(error=escape(str(exc))))
    await _record(sessions, group_ids, user, silence_id, matchers, now)
    return Outcome(True)


async def _groups_labels(
    session: AsyncSession, group_ids: Sequence[int]
) -> tuple[list[dict[str, str]], set[str], bool]:
    """Each group's silence labels (those all its alerts share), every alert's
    fingerprint, and whether any alert is no longer reported by Alertmanager."""
    groups = (
        await session.scalars(
            select(AlertGroup).where(AlertGroup.id.in_(group_ids)).order_by(AlertGroup.id)
        )
    ).all()
    alerts = (await session.scalars(select(Alert).where(Alert.group_id.in_(group_ids)))).all()
    labels = [
        shared_labels((a.labels for a in alerts if a.group_id == g.id), g.common_labels)
        for g in groups
    ]
    return labels, {a.fingerprint for a in alerts}, any(a.status == UNREPORTED for a in alerts)


def _matchers(shared: SharedSilence) -> list[Matcher]:
    return [
        *equality_matchers(shared.labels),
        Matcher(shared.varying, shared.pattern, is_regex=True),
    ]


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    group_ids: Sequence[int],
    user: str,
    silence_id: str,
    matchers: list[Matcher],
    now: datetime,
) -> None:
    shown = ", ".join(inline_code(str(matcher)) for matcher in matchers)
    text = m.THREAD_SILENCED.format(
        user=user, duration=format_duration(DURATION), silence_id=silence_id, matchers=shown
    )
    async with sessions.begin() as session:
        for group_id in group_ids:
            group = await session.get(AlertGroup, group_id)
            if group is None:
                continue
            await reply(session, group, text, now)  # folded groups have no thread: no-op
            trail.record(
                session,
                at=now,
                actor=user,
                action="alert.silenced",
                subject=f"alert-group:{group_id}",
                silence_id=silence_id,
                duration_seconds=int(DURATION.total_seconds()),
                matchers=[str(x) for x in matchers],
                broader_than_group="",
                shared_by=len(group_ids),
            )

"""The Slack calls of an incident, queued in the outbox inside the caller's transaction.

The channel comes first (`queue_channel`): a conversations.create row whose answer, the
channel's id, the outbox records under `incident-channel:<id>`. Everything that needs
the id is queued by `channel_ready` once that record exists, from the timer pass
(bot/incidents/feature.py), exactly once: the incident's `channel_id` is set by a
conditional UPDATE that only one pass can win. A restart between the two finds the
record and goes on; a restart before the create was answered sends the create again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import String, cast, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.incidents import store
from bot.incidents.models import Incident
from bot.slack.outbox_queue import enqueue
from bot.storage.models import SlackMessage
from incidents import messages as m
from incidents.summary import (
    IncidentView,
    announcement,
    purpose,
    render_summary,
    status_announcement,
    topic,
)

URGENT = 0  # an incident's calls go before routine messages


async def queue_channel(session: AsyncSession, incident: Incident, now: datetime) -> None:
    await enqueue(
        session,
        op="call",
        channel=store.channel_ref(incident.id),
        payload={"method": "conversations.create", "args": {"name": incident.channel_name}},
        message_key=store.channel_key(incident.id),
        priority=URGENT,
        now=now,
    )


async def created_channels(session: AsyncSession, limit: int = 20) -> list[tuple[Incident, str]]:
    """Incidents whose channel Slack made but that have not taken it up yet."""
    # Joined on the key, so incidents whose creation failed for good never crowd out others.
    key = literal("incident-channel:", String) + cast(Incident.id, String)
    rows = await session.execute(
        select(Incident, SlackMessage.channel)
        .join(SlackMessage, SlackMessage.key == key)
        .where(Incident.channel_id.is_(None))
        .order_by(Incident.id)
        .limit(limit)
    )
    return [(incident, str(channel)) for incident, channel in rows.all() if channel]


async def take_channel(session: AsyncSession, incident: Incident, channel: str) -> bool:
    """Set the incident's channel; False when another pass did it first."""
    done = await session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.channel_id.is_(None))
        .values(channel_id=channel)
    )
    if getattr(done, "rowcount", 0) != 1:
        return False
    incident.channel_id = channel
    return True


async def channel_ready(
    session: AsyncSession,
    view: IncidentView,
    *,
    invite: Sequence[str],
    broadcast: str | None,
    group_threads: Sequence[tuple[str, str]],
    lead_name: str,
    now: datetime,
) -> None:
    """Topic, purpose, invitations, the pinned summary, the announcement and the links
    from the alert groups' threads, all queued in one transaction."""
    channel = view.channel or ""
    for method, args in (
        ("conversations.setTopic", {"topic": topic(view, lead_name)}),
        ("conversations.setPurpose", {"purpose": purpose(view)}),
    ):
        await _call(session, channel, method, args, now)
    if invite:
        await _call(session, channel, "conversations.invite", {"users": ",".join(invite)}, now)
    await enqueue(
        session,
        op="post",
        channel=channel,
        payload=render_summary(view, now),
        message_key=store.summary_key(view.id),
        priority=URGENT,
        now=now,
    )
    await enqueue(
        session,
        op="call",
        channel=channel,
        payload={"method": "pins.add", "args": {}},
        message_key=store.summary_key(view.id),
        priority=URGENT,
        now=now,
    )
    if broadcast:
        await post(session, broadcast, announcement(view), now)
    for channel_of_group, key in group_threads:
        await enqueue(
            session,
            op="reply",
            channel=channel_of_group,
            payload={"text": m.GROUP_LINK.format(id=view.id, channel=channel)},
            message_key=key,
            priority=URGENT,
            now=now,
        )


async def _call(
    session: AsyncSession, channel: str, method: str, args: Mapping[str, object], now: datetime
) -> None:
    await enqueue(
        session,
        op="call",
        channel=channel,
        payload={"method": method, "args": dict(args)},
        priority=URGENT,
        now=now,
    )


async def post(session: AsyncSession, channel: str, text: str, now: datetime) -> None:
    await enqueue(
        session, op="post", channel=channel, payload={"text": text}, priority=URGENT, now=now
    )


async def refresh_summary(session: AsyncSession, view: IncidentView, now: datetime) -> None:
    """The pinned summary, re-rendered in place (a no-op before the channel exists)."""
    if not view.channel:
        return
    await enqueue(
        session,
        op="update",
        channel=view.channel,
        payload=render_summary(view, now),
        message_key=store.summary_key(view.id),
        priority=URGENT,
        now=now,
    )


async def retopic(session: AsyncSession, view: IncidentView, lead_name: str, now: datetime) -> None:
    if view.channel:
        await _call(
            session, view.channel, "conversations.setTopic", {"topic": topic(view, lead_name)}, now
        )


async def announce_status(
    session: AsyncSession, view: IncidentView, broadcast: str | None, now: datetime
) -> None:
    if broadcast:
        await post(session, broadcast, status_announcement(view), now)


async def invite(
    session: AsyncSession, channel: str | None, users: Sequence[str], now: datetime
) -> None:
    if channel and users:
        await _call(session, channel, "conversations.invite", {"users": ",".join(users)}, now)


async def archive(session: AsyncSession, channel: str, now: datetime) -> None:
    await _call(session, channel, "conversations.archive", {}, now)

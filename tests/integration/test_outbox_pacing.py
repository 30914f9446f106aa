"""Paced updates of one message merge into a single call carrying the newest state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.slack.outbox_queue import enqueue
from bot.storage import migrate
from bot.storage.engine import create_engine, session_factory
from bot.storage.models import OutboxEntry

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


async def test_updates_within_the_spacing_wait_and_merge(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    spacing = timedelta(seconds=2)
    async with sessions.begin() as session:
        sent = await enqueue(
            session,
            op="post",
            channel="C0000ALERT",
            payload={"text": "v1"},
            message_key="storm:1",
            now=T0,
        )
        sent.state, sent.sent_at = "sent", T0
    async with sessions.begin() as session:
        for n in range(2, 6):  # four rewrites half a second after the post
            await enqueue(
                session,
                op="update",
                channel="C0000ALERT",
                payload={"text": f"v{n}"},
                message_key="storm:1",
                now=T0 + timedelta(milliseconds=500),
                min_spacing=spacing,
            )
    async with sessions() as session:
        pending = (
            await session.scalars(select(OutboxEntry).where(OutboxEntry.state == "pending"))
        ).all()
    await engine.dispose()
    assert len(pending) == 1  # one call, not four
    assert pending[0].payload["text"] == "v5"  # carrying the newest state
    assert pending[0].not_before == T0 + spacing  # two seconds after the last one went out


async def test_without_spacing_an_update_is_due_at_once(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        sent = await enqueue(
            session,
            op="post",
            channel="C0000ALERT",
            payload={"text": "v1"},
            message_key="alert-group:1",
            now=T0,
        )
        sent.state, sent.sent_at = "sent", T0
    async with sessions.begin() as session:
        update = await enqueue(
            session,
            op="update",
            channel="C0000ALERT",
            payload={"text": "v2"},
            message_key="alert-group:1",
            now=T0 + timedelta(milliseconds=500),
        )
    await engine.dispose()
    assert update.not_before == T0 + timedelta(milliseconds=500)

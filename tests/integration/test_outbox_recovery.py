"""Crash recovery that cannot look a message up in Slack still posts the P0.

A replica died while posting a P0 (its outbox row is left `sending`); the survivor looks
the post up in the channel's history before sending it again. When Slack refuses the
lookup (the app lacks channels:history, the bot is not in the channel), the row is sent
after a bounded number of tries, logged and counted: a possible duplicate, never a lost
P0. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import update

from bot.sandbox.emulator import SlackEmulator
from bot.slack.outbox.recovery import MAX_LOOKUP_FAILURES
from bot.storage.models import OutboxEntry
from tests.escalation.conftest import Bot, pd_server, start_bot
from tests.support.payloads import notification

__all__ = ["pd_server", "start_bot"]

DEAD_REPLICA = "gone-host:4242:424242"  # holds no liveness lock: a stopped replica


async def p0_left_sending_by_a_dead_replica(bot: Bot) -> int:
    """A P0 processed into the outbox whose post a replica claimed, then died."""
    payload = notification(labels={"alertname": "ApiDown", "severity": "critical"})
    await bot.service.intake.store("alertmanager", payload)
    await bot.service.processor.process_pending()  # queued in the outbox, not sent
    async with bot.service.sessions.begin() as session:
        row_id = await session.scalar(
            update(OutboxEntry)
            .where(OutboxEntry.op == "post", OutboxEntry.channel == "C0000INCID")
            .values(state="sending", claimed_by=DEAD_REPLICA, claimed_at=bot.now())
            .returning(OutboxEntry.id)
        )
    assert row_id is not None
    return int(row_id)


@pytest.mark.parametrize("refusal", ["missing_scope", "not_in_channel", "channel_not_found"])
async def test_a_p0_whose_post_cannot_be_looked_up_is_posted_after_bounded_tries(
    database_url: str,
    start_bot: object,
    emulator: SlackEmulator,
    caplog: pytest.LogCaptureFixture,
    refusal: str,
) -> None:
    bot: Bot = await start_bot(database_url)  # type: ignore[operator]
    row_id = await p0_left_sending_by_a_dead_replica(bot)
    emulator.fail_next("conversations.history", status=200, error=refusal, times=50)

    for _ in range(MAX_LOOKUP_FAILURES - 1):
        assert await bot.service.outbox.recover() == 0
        async with bot.service.sessions() as session:
            row = await session.get(OutboxEntry, row_id)
            assert row is not None and row.state == "sending"
    assert await bot.service.outbox.recover() == 1
    await bot.service.outbox.drain()

    [p0] = emulator.messages("C0000INCID")
    assert "ApiDown" in p0.text
    lookups = emulator.calls("conversations.history")
    assert len(lookups) == MAX_LOOKUP_FAILURES and {c.response["error"] for c in lookups} == {
        refusal
    }
    metrics = await bot.metrics()
    assert "chatops_outbox_resent_unverified_total 1.0" in metrics
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("it may show twice" in line and refusal in line for line in warned)


async def test_a_post_found_in_history_is_recorded_not_sent_again(
    sqlite_url: str, start_bot: object, emulator: SlackEmulator
) -> None:
    bot: Bot = await start_bot(sqlite_url)  # type: ignore[operator]
    emulator.fail_next("conversations.history", status=200, error="missing_scope")
    row_id = await p0_left_sending_by_a_dead_replica(bot)
    assert await bot.service.outbox.recover() == 0  # one refusal: not yet
    # The dead replica's post did reach Slack before it died.
    await bot.service.slack_client.chat_postMessage(
        channel="C0000INCID",
        text="ApiDown (posted by the stopped replica)",
        metadata={"event_type": "chatops_outbox", "event_payload": {"outbox_id": row_id}},
    )
    assert await bot.service.outbox.recover() == 1
    await bot.service.outbox.drain()
    assert len(emulator.messages("C0000INCID")) == 1  # found: not posted twice
    assert "chatops_outbox_resent_unverified_total 0.0" in await bot.metrics()

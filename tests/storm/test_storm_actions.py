"""The storm summary is a place to act: Acknowledge all, Silence all 1h (against Debian's
Alertmanager) and Open a group, each authorised and audited like its single-group twin."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from actions.alertmanager import AlertmanagerClient
from bot.alerts.storm import SUMMARY_SPACING
from bot.clock import SystemClock
from bot.config import Config
from bot.sandbox.emulator import Message, SlackEmulator
from bot.storage.models import AlertGroup, AuditEvent
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService
from tests.storm.conftest import group_notification
from tests.support.alertmanager import alertmanager

CHANNEL = "C0000ALERT"
RESPONDER = "U0000ONC01"
OUTSIDER = "U0000APR01"
FOLDED = [f"Storm{i:03d}" for i in range(2, 7)]


async def fold_into_summary(
    start_service: StartService,
    database_url: str,
    emulator: SlackEmulator,
    example_config: Config,
    bodies: list[dict[str, Any]],
) -> tuple[RunningService, Message]:
    """Two posts held back by a long Retry-After make the channel's queue longer than the
    threshold (1 s): the groups of `bodies`, delivered next, are folded into the summary."""
    alerts = example_config.alerts.model_copy(
        update={"storm_threshold": 1, "responders": [RESPONDER]}
    )
    bot = await start_service(
        database_url,
        config=example_config.model_copy(update={"alerts": alerts}),
        clock=SystemClock(),  # Alertmanager wants silences that end in the future
    )
    emulator.fail_next("chat.postMessage", status=429, retry_after=60, times=2)
    for body in [group_notification(0, alerts=2), group_notification(1, alerts=2), *bodies]:
        await bot.deliver(body)
        await bot.settle()
    await summary_caught_up(bot)
    [summary] = [m for m in emulator.messages(CHANNEL) if m.text.startswith("🌩")]
    return bot, summary


@pytest.fixture
async def storm(
    start_service: StartService, database_url: str, emulator: SlackEmulator, example_config: Config
) -> tuple[RunningService, Message]:
    """The next five groups are folded into the summary."""
    bodies = [group_notification(index, alerts=2) for index in range(2, 7)]
    return await fold_into_summary(start_service, database_url, emulator, example_config, bodies)


async def summary_caught_up(bot: RunningService) -> None:
    """The summary's rewrites go out at most every 2 s (bot/storm.SUMMARY_SPACING)."""
    await asyncio.sleep(SUMMARY_SPACING.total_seconds() + 0.1)
    await bot.settle()


async def click(
    emulator: SlackEmulator,
    bot: RunningService,
    summary: Message,
    action: str,
    value: str,
    user: str = RESPONDER,
) -> None:
    await emulator.send_block_action(
        user=user, action_id=action, value=value, channel=CHANNEL, message_ts=summary.ts
    )
    await bot.settle()
    await summary_caught_up(bot)


async def audit(bot: RunningService, action: str) -> list[AuditEvent]:
    async with bot.service.sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == action)
        return list((await session.scalars(query)).all())


async def folded(bot: RunningService) -> list[AlertGroup]:
    async with bot.service.sessions() as session:
        query = select(AlertGroup).where(AlertGroup.storm_id.is_not(None))
        return list((await session.scalars(query.order_by(AlertGroup.id))).all())


def storm_value(summary: Message, action: str) -> str:
    return next(
        str(e["value"])
        for b in summary.blocks
        for e in b.get("elements", [])
        if e.get("action_id") == action
    )


async def test_acknowledge_all_acks_every_folded_group_once_and_only_for_responders(
    storm: tuple[RunningService, Message], emulator: SlackEmulator
) -> None:
    bot, summary = storm
    assert [g.group_key_text or g.group_key for g in await folded(bot)]
    value = storm_value(summary, "storm.ack_all")

    await click(emulator, bot, summary, "storm.ack_all", value, user=OUTSIDER)
    [refusal] = emulator.ephemerals
    assert refusal.ephemeral_user == OUTSIDER and "responders" in refusal.text
    assert all(g.acked_by is None for g in await folded(bot))
    assert len(await audit(bot, "alert.storm.acknowledge.refused")) == 1

    await click(emulator, bot, summary, "storm.ack_all", value)
    groups = await folded(bot)
    assert len(groups) == len(FOLDED)
    assert all(g.acked_by == RESPONDER for g in groups)
    acked = await audit(bot, "alert.acknowledged")
    assert sorted(e.subject for e in acked) == sorted(f"alert-group:{g.id}" for g in groups)
    shown = emulator.message(CHANNEL, summary.ts)
    assert shown is not None and "acknowledged" in json.dumps(shown.blocks)
    # Nothing was posted for the folded groups: the summary shows the change.
    assert [m for m in emulator.messages(CHANNEL) if any(n in m.text for n in FOLDED)] == [
        m for m in emulator.messages(CHANNEL) if m.ts == summary.ts
    ]


async def test_silence_all_makes_one_alertmanager_silence_per_group(
    storm: tuple[RunningService, Message], emulator: SlackEmulator, tmp_path: Path
) -> None:
    bot, summary = storm
    value = storm_value(summary, "storm.silence_all")
    async with alertmanager(f"{bot.url}/webhooks/alertmanager", WEBHOOK_TOKEN, tmp_path) as am:
        assert bot.service.http is not None
        bot.service.alertmanager = AlertmanagerClient(bot.service.http, am.url)

        await click(emulator, bot, summary, "storm.silence_all", value, user=OUTSIDER)
        assert await am.silences() == []
        assert await audit(bot, "alert.silenced") == []
        assert [e.ephemeral_user for e in emulator.ephemerals] == [OUTSIDER]

        await click(emulator, bot, summary, "storm.silence_all", value)
        made: list[dict[str, Any]] = [
            s for s in await am.silences() if s["status"]["state"] == "active"
        ]
        names = sorted(
            next(m["value"] for m in s["matchers"] if m["name"] == "alertname") for s in made
        )
        assert names == FOLDED
        silenced = await audit(bot, "alert.silenced")
        assert sorted(e.details["silence_id"] for e in silenced) == sorted(s["id"] for s in made)
        assert {e.actor for e in silenced} == {RESPONDER}


async def test_opening_a_group_posts_its_full_message_in_the_summarys_thread(
    storm: tuple[RunningService, Message], emulator: SlackEmulator
) -> None:
    bot, summary = storm
    groups = await folded(bot)
    chosen = groups[0]
    await click(emulator, bot, summary, "storm.open", str(chosen.id), user=OUTSIDER)
    [opened] = emulator.replies(CHANNEL, summary.ts)
    assert "Storm002" in opened.text
    assert "alert.ack" in json.dumps(opened.blocks)  # its own buttons
    [event] = await audit(bot, "alert.opened_from_storm")
    assert event.subject == f"alert-group:{chosen.id}" and event.actor == OUTSIDER
    shown = emulator.message(CHANNEL, summary.ts)
    assert shown is not None and "posted separately" in json.dumps(shown.blocks)

    # Opened once: a second choice of the same group posts nothing more.
    await click(emulator, bot, summary, "storm.open", str(chosen.id))
    assert len(emulator.replies(CHANNEL, summary.ts)) == 1

"""The storm summary is rendered when it is sent, not on every fold, and folds are counted.

Rendering the summary on every fold read every folded group again each time (O(n^2) rows
for a storm of n groups), which slowed the intake to a crawl in a 500-group storm: the
P0 waited behind it. Folding now only marks the one pending summary call stale.
"""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from bot.alerts.storm import STALE
from bot.clock import SystemClock
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import OutboxEntry
from tests.conftest import RunningService, StartService
from tests.storm.conftest import group_notification

CHANNEL = "C0000ALERT"
FOLDED = 40  # groups after the two whose posts Slack holds back


@pytest.fixture
async def bot(
    start_service: StartService, database_url: str, emulator: SlackEmulator, example_config: Config
) -> RunningService:
    """Two posts held back by a long Retry-After: the channel's queue is longer than the
    threshold (1 s), so every group after them is folded into the summary."""
    alerts = example_config.alerts.model_copy(update={"storm_threshold": 1})
    running = await start_service(
        database_url,
        config=example_config.model_copy(update={"alerts": alerts}),
        clock=SystemClock(),
    )
    emulator.fail_next("chat.postMessage", status=429, retry_after=60, times=2)
    for index in range(2):
        await running.deliver(group_notification(index, alerts=2))
        await running.settle()
    return running


async def summary_rows(bot: RunningService) -> list[OutboxEntry]:
    async with bot.service.sessions() as session:
        query = select(OutboxEntry).where(OutboxEntry.message_key.like("storm:%"))
        return list((await session.scalars(query.order_by(OutboxEntry.id))).all())


def folded_counter(bot: RunningService) -> float:
    value = bot.service.metrics.registry.get_sample_value("chatops_storm_folded_groups_total")
    return value or 0.0


async def test_folding_only_marks_the_summary_and_the_outbox_renders_it_once(
    bot: RunningService, emulator: SlackEmulator
) -> None:
    for index in range(2, 2 + FOLDED):
        await bot.deliver(group_notification(index, alerts=2))
    await bot.service.processor.process_pending()

    # Forty folds, one queued call, and nothing rendered yet: the call says only "stale".
    [pending] = await summary_rows(bot)
    assert pending.state == "pending" and pending.payload == {STALE: True}

    await bot.service.outbox.drain(paced=False)
    [sent] = await summary_rows(bot)
    assert sent.state == "sent"
    [summary] = [m for m in emulator.messages(CHANNEL) if m.text.startswith("🌩")]
    shown = str(summary.blocks)
    assert [i for i in range(2, 2 + FOLDED) if f"Storm{i:03d}" not in shown] == []
    assert sent.payload["blocks"] == summary.blocks  # the row records what Slack got


async def test_each_folded_group_is_counted_once(bot: RunningService) -> None:
    for index in range(2, 7):
        await bot.deliver(group_notification(index, alerts=2))
        await bot.settle()
    assert folded_counter(bot) == 5
    # The same groups growing are changes of folded groups, not new folds.
    for index in range(2, 7):
        await bot.deliver(group_notification(index, alerts=4))
        await bot.settle()
    assert folded_counter(bot) == 5
    async with aiohttp.ClientSession() as http, http.get(f"{bot.url}/metrics") as page:
        assert "chatops_storm_folded_groups_total 5.0" in await page.text()


async def test_posts_still_queued_when_the_storm_opens_are_folded_into_it(
    start_service: StartService, database_url: str, emulator: SlackEmulator, example_config: Config
) -> None:
    """Five groups processed before the outbox runs: the fifth finds four posts queued
    (4 s > the 3 s threshold) and opens the storm; the four never-sent posts join it, so
    Slack gets one summary naming all five, not four posts at one a second and then it."""
    alerts = example_config.alerts.model_copy(update={"storm_threshold": 3})
    bot = await start_service(
        database_url, config=example_config.model_copy(update={"alerts": alerts})
    )
    for index in range(5):
        await bot.deliver(group_notification(index, alerts=2))
        await bot.service.processor.process_pending()
    await bot.settle()

    names = [f"Storm{i:03d}" for i in range(5)]
    assert [m.text for m in emulator.messages(CHANNEL) if not m.text.startswith("🌩")] == []
    [summary] = [m for m in emulator.messages(CHANNEL) if m.text.startswith("🌩")]
    assert [n for n in names if n not in str(summary.blocks)] == []
    assert folded_counter(bot) == 5

    # A folded group's next notification changes the summary, not a message of its own.
    await bot.deliver(group_notification(0, alerts=4))
    await bot.settle()
    assert [m.text for m in emulator.messages(CHANNEL) if not m.text.startswith("🌩")] == []

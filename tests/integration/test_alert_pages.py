"""“Show all alerts”: a large group's alerts, page by page in its thread, for responders.

A message lists the first alerts and "+N more"; the button posts 100 alerts per page in
the thread, each page with a button for the next. Clicks are authorised as the other
alert buttons are, and a page button only works in the thread of its own group.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import AuditEvent
from tests.conformance.support import button, post_json
from tests.conftest import StartService
from tests.support.payloads import notification

CHANNEL = "C0000ALERT"


async def test_a_responder_pages_through_the_group_and_others_are_refused(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    alerts = example_config.alerts.model_copy(update={"responders": ["S0000ONCAL"]})
    bot = await start_service(
        sqlite_url, config=example_config.model_copy(update={"alerts": alerts})
    )
    await post_json(bot, notification(alerts=150))
    await post_json(bot, notification('{}:{alertname="Other"}', labels={"alertname": "Other"}))
    await bot.settle()
    message, other = emulator.messages(CHANNEL)
    assert "+140 more alert(s) in this group" in json.dumps(message.blocks)
    show_all = button(message.blocks, "alert.page")
    assert show_all is not None and show_all["value"] == "1:0"
    assert button(other.blocks, "alert.page") is None  # one alert: nothing more to show

    async def click(user: str, value: str, ts: str) -> None:
        await emulator.send_block_action(
            user=user, action_id="alert.page", value=value, channel=CHANNEL, message_ts=ts
        )
        await bot.settle()

    await click("U0000OUT01", "1:0", message.ts)
    assert emulator.replies(CHANNEL, message.ts) == []
    [refusal] = emulator.ephemerals
    assert refusal.ephemeral_user == "U0000OUT01" and "responders" in refusal.text

    await click("U0000ONC01", "1:0", message.ts)
    [first] = emulator.replies(CHANNEL, message.ts)
    assert "Alerts 1–100 of 150" in json.dumps(first.blocks, ensure_ascii=False)
    following = button(first.blocks, "alert.page")
    assert following is not None and following["text"]["text"] == "Next 50"
    await click("U0000ONC01", following["value"], first.ts)
    last = emulator.replies(CHANNEL, message.ts)[1]
    assert "Alerts 101–150 of 150" in json.dumps(last.blocks, ensure_ascii=False)
    assert button(last.blocks, "alert.page") is None
    shown = json.dumps([first.blocks, last.blocks])
    assert all(f"node-{i}:9100" in shown for i in range(150))  # every alert, once

    # A page button does not work for another group from this group's thread.
    await click("U0000ONC01", "2:0", first.ts)
    assert emulator.replies(CHANNEL, other.ts) == []
    async with bot.service.sessions() as session:
        refused = (await session.scalars(select(AuditEvent.action))).all()
    assert refused.count("alert.page.refused") == 2

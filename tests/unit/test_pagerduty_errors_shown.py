"""What the person who clicked Acknowledge on a PagerDuty incident message is told when
PagerDuty refuses the change: the thing to fix, not just PagerDuty's error code."""

from __future__ import annotations

from typing import Any

from bot.config import Config
from tests.escalation.conftest import pd_server, start_bot
from tests.pagerduty_flow.conftest import bot_with_posted_incident

__all__ = ["pd_server", "start_bot"]


async def test_a_login_pagerduty_does_not_know_is_named_to_the_clicker(
    sqlite_url: str, start_bot: Any, example_config: Config
) -> None:
    bot, incident, message = await bot_with_posted_incident(
        sqlite_url, start_bot, example_config, "Payments failing"
    )
    # The bot's pagerduty.users gives ada@example.com for U0000ONC01; the account has
    # no such login (a typo in the config, or the person left PagerDuty).
    bot.pd.users = {"someone.else@example.com"}

    await bot.emulator.send_block_action(
        user="U0000ONC01",
        action_id="pagerduty.ack",
        value=incident.id,
        channel="C0000INCID",
        message_ts=message.ts,
    )
    await bot.running.settle()

    [ephemeral] = bot.emulator.ephemerals
    assert ephemeral.text.startswith(
        "PagerDuty did not accept that: PagerDuty has no user with the login ada@example.com"
    )
    assert "Requester User Not Found" in ephemeral.text and "1008" in ephemeral.text
    assert incident.status == "triggered"

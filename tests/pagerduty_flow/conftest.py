"""The escalation fixtures (PagerDuty stand-in, a bot wired to it) are shared here."""

from __future__ import annotations

from typing import Any

from alerts.config import PagerDutyConfig
from bot.config import Config
from bot.sandbox.emulator import Message
from tests.escalation.conftest import WEBHOOK_SECRET, Bot, pd_server, start_bot
from tests.servers.pagerduty import ServerIncident

__all__ = ["pd_server", "start_bot"]


async def bot_with_posted_incident(
    database_url: str, start_bot: Any, example_config: Config, title: str
) -> tuple[Bot, ServerIncident, Message]:
    """A bot mapping U0000ONC01 to a PagerDuty user, and the message it posted for a new
    incident of PSERVC1 (routed to C0000INCID)."""
    config = example_config.model_copy(
        update={
            "pagerduty": PagerDutyConfig(
                services={"PSERVC1": "C0000INCID"}, users={"U0000ONC01": "ada@example.com"}
            )
        }
    )
    bot: Bot = await start_bot(database_url, config=config)
    incident = bot.pd.open_incident(title)
    await bot.pd.send_webhook(
        f"{bot.url}/webhooks/pagerduty",
        "incident.triggered",
        bot.pd.webhook_data(incident),
        WEBHOOK_SECRET,
    )
    await bot.running.settle()
    [message] = bot.emulator.messages("C0000INCID")
    return bot, incident, message

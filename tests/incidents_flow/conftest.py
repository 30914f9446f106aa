"""Helpers for the incident flow: a bot with incidents configured, alerts through the
webhook, `/incident` typed by a user, and the timer pass run on the test's clock."""

from __future__ import annotations

import json
from typing import Any

from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.store import Message
from incidents.config import IncidentsConfig
from tests.conftest import RunningService
from tests.runbooks_flow.conftest import until
from tests.support.payloads import notification

P0_CHANNEL = "C0000INCID"  # the P0 escalation channel: also the default broadcast channel
ONCALL = "U0000ONC01"  # in the S0000ONCAL group, the example's responders
OUTSIDER = "U0000OUT01"

__all__ = ["until"]


def with_incidents(config: Config, **values: Any) -> Config:
    return config.model_copy(update={"incidents": IncidentsConfig(**values)})


def p0(group_key: str = '{}:{alertname="ApiDown"}', **labels: str) -> dict[str, Any]:
    return notification(
        group_key, labels={"alertname": "ApiDown", "severity": "critical", **labels}
    )


def p1(group_key: str = '{}:{alertname="ApiSlow"}', **labels: str) -> dict[str, Any]:
    return notification(group_key, labels={"alertname": "ApiSlow", "severity": "error", **labels})


async def settle(bot: RunningService) -> None:
    """Everything due: deliveries, Slack calls, and the incidents' timer pass between."""
    for _ in range(3):
        await bot.settle()
        await bot.service.incidents.tick()
    await bot.settle()


def text_of(message: Message) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


def new_channels(emulator: SlackEmulator) -> dict[str, str]:
    """Channels the bot created: id -> name."""
    return {
        c.id: c.name for c in emulator.store.channels.values() if c.id in emulator.channels.state
    }


def the_channel(emulator: SlackEmulator) -> str:
    channels = new_channels(emulator)
    assert len(channels) == 1, channels
    return next(iter(channels))


def summary(emulator: SlackEmulator, channel: str) -> Message:
    pins = emulator.channels.of(channel).pins
    assert len(pins) == 1, pins
    found = emulator.message(channel, pins[0])
    assert found is not None
    return found


def buttons(message: Message) -> dict[str, str]:
    return {
        e["action_id"]: str(e.get("value"))
        for b in message.blocks
        for e in b.get("elements", [])
        if isinstance(e, dict) and "action_id" in e
    }


async def incident_command(
    bot: RunningService, emulator: SlackEmulator, text: str, *, user: str, channel: str
) -> None:
    response = await emulator.send_command("/incident", text, user=user, channel=channel)
    assert response.status == 200
    await settle(bot)


def told(emulator: SlackEmulator, user: str) -> list[str]:
    return [e.text for e in emulator.ephemerals if e.ephemeral_user == user]

"""P0/P1 alert messages name who is on call for their service, and re-notifications
mention them: from what the handoff poller last read, never PagerDuty from the alert path."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from tests.escalation.conftest import Bot
from tests.oncall.conftest import HANDOFF, START, with_oncall
from tests.servers.pagerduty import PagerDutyServer
from tests.support.payloads import notification

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"])


def shown(message: Any) -> str:
    return message.text + json.dumps(message.blocks)


async def test_a_p0_names_the_on_call_and_its_renotification_mentions_them(
    database_url: str,
    start_bot: Any,
    emulator: SlackEmulator,
    example_config: Config,
    account: PagerDutyServer,
) -> None:
    bot: Bot = await start_bot(
        database_url, config=with_oncall(example_config), clock=FakeClock(START)
    )
    await bot.tick()  # the handoff poller's first reading
    read = len(account.calls_to("/oncalls"))

    await bot.fire(notification(labels={"severity": "critical", "service": "api"}))
    [message] = emulator.messages("C0000INCID")
    assert "On call: <@U0000ONC01>" in shown(message)
    assert len(account.calls_to("/oncalls")) == read  # the alert asked PagerDuty nothing

    await bot.at(timedelta(minutes=5))  # P0 re-notifies every 5m
    [renotified] = bot.replies("C0000INCID", "Still firing")
    assert "<@U0000ONC01>" in renotified


async def test_after_a_handoff_the_message_names_the_new_person_and_a_p2_names_nobody(
    database_url: str,
    start_bot: Any,
    emulator: SlackEmulator,
    example_config: Config,
    account: PagerDutyServer,
) -> None:
    bot: Bot = await start_bot(
        database_url, config=with_oncall(example_config), clock=FakeClock(START)
    )
    await bot.tick()
    bot.running.clock.advance(HANDOFF - START)
    await bot.tick()
    await bot.fire(
        notification(
            '{}:{alertname="ApiDown"}',
            labels={"alertname": "ApiDown", "severity": "error", "service": "api"},
        )
    )
    # (The example config's backup heartbeat has gone late by now, in the same channel.)
    [p1] = [m for m in emulator.messages("C0000ALERT") if "ApiDown" in shown(m)]
    assert "On call: <@U0000ADA01>" in shown(p1)
    await bot.fire(notification(labels={"severity": "warning", "service": "api"}))
    [p2] = [m for m in emulator.messages("C0000ALERT") if "DiskFull" in shown(m)]
    assert "On call" not in shown(p2)

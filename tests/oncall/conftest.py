"""On-call tests: the PagerDuty test server with an account of people and rotations.

The account, at the fake clock's start (Thu 2026-01-01 12:00 UTC): the escalation policy
"API" (PEP0001, used by the PagerDuty service PSERVC1) notifies the schedule "API primary"
(PSCHED1) first, then "API secondary" (PSCHED2). Olu holds the primary until Mon
2026-01-05 08:00 UTC, then Ada for a week; Lin, who has no Slack account, is secondary.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.pagerduty_oncall import Block
from oncall.config import OnCallConfig
from tests.escalation.conftest import pd_server, start_bot
from tests.servers.pagerduty import PagerDutyServer

__all__ = ["pd_server", "start_bot"]

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HANDOFF = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # Mon 09:00 in Madrid
ADA = "U0000ADA01"


@pytest.fixture
def account(pd_server: PagerDutyServer, emulator: SlackEmulator) -> PagerDutyServer:
    data = pd_server.oncall
    data.add_user("P0000ONC01", "Olu Oncall", "olu@example.com")
    data.add_user("PADA0001", "Ada Lovelace", "ada@example.com")
    data.add_user("PLIN0001", "Lin <Lee>", "lin@elsewhere.example")
    week = timedelta(days=7)
    data.add_schedule(
        "PSCHED1",
        "API primary",
        [
            Block("P0000ONC01", HANDOFF - week, HANDOFF),
            Block("PADA0001", HANDOFF, HANDOFF + week),
            Block("P0000ONC01", HANDOFF + week, HANDOFF + 2 * week),
        ],
    )
    data.add_schedule(
        "PSCHED2", "API secondary", [Block("PLIN0001", START - week, START + 4 * week)]
    )
    data.add_policy("PEP0001", "API", [["PSCHED1"], ["PSCHED2"]])
    data.add_service("PSERVC1", "API Service", "PEP0001")
    emulator.add_user(ADA, "ada", "Ada Lovelace", "ada@example.com", tz="Europe/Madrid")
    emulator.add_user("U0000APR01", "ari", "Ari Approver", "ari@example.com", tz="Europe/Madrid")
    return pd_server


def with_oncall(config: Config, **extra: Any) -> Config:
    section = OnCallConfig(schedules={"api": "PSCHED1"}, **extra)
    return config.model_copy(update={"oncall": section})

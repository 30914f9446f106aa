"""Bad commands get an ephemeral answer with usage and change nothing."""

from __future__ import annotations

import pytest

from bot.sandbox.emulator import SlackEmulator
from tests.conftest import StartService
from tests.operations.conftest import CHANNEL, DEPLOYER, Flow

IMMEDIATE = [
    ("/deploy", "shop v1.4.0 production", "Unknown service `shop`"),
    ("/deploy", "api v1.4.0 moon", "Unknown environment `moon`"),
    ("/deploy", "api v1; rm -rf / production", "is not a valid version"),
    ("/deploy", "api v1.4.0\nproduction", "line break"),
    ("/deploy", "api " + "v" * 10_000, "characters long"),
    ("/shift", "33", "33% is not an allowed step"),
    ("/shift", "150", "150% is not an allowed step"),
    ("/shift", "abc", "not a whole percentage"),
    ("/rollback", "api moon", "Unknown environment `moon`"),
]


@pytest.mark.parametrize(("command", "text", "problem"), IMMEDIATE)
async def test_bad_commands_are_answered_at_once_with_usage(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    command: str,
    text: str,
    problem: str,
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    response = await flow.command(command, text)
    answer = (response.json or {}).get("text", "")
    assert problem in answer and "Usage: `" + command in answer
    assert (response.json or {}).get("response_type") == "ephemeral"
    assert flow.requests() == [] and await flow.statuses() == []
    assert await flow.dryrun_state() == {}


async def test_help_comes_from_the_registry(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    answer = (await flow.command("/deploy", "help")).json or {}
    assert "Usage: `/deploy <service> <version> [environment] [--force]`" in answer["text"]


async def test_nothing_to_roll_back_and_non_deployers_are_told_ephemerally(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.command("/rollback", "")
    [answer] = flow.ephemerals_for(DEPLOYER)
    assert "Nothing to roll back" in answer and "Usage: `/rollback" in answer

    await flow.command("/deploy", "api v1.4.0 production", user="U0000OUT01")
    [answer] = flow.ephemerals_for("U0000OUT01")
    assert "not a deployer" in answer and "Usage: `/deploy" in answer
    assert flow.requests() == [] and await flow.statuses() == []


async def test_deployers_may_be_a_user_group_resolved_through_slack(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: object
) -> None:
    from bot.config import Config

    assert isinstance(example_config, Config)
    deploy = example_config.deploy.model_copy(update={"deployers": ["S0000ONCAL"]})
    config = example_config.model_copy(update={"deploy": deploy})
    flow = Flow(await start_service(sqlite_url, config=config), emulator)
    await flow.command("/deploy", "api v1.4.0 production", user="U0000ONC01")
    await flow.command("/deploy", "api v1.4.1 staging", user="U0000ONC01")
    assert len(flow.requests()) == 2
    assert len(emulator.calls("usergroups.users.list")) == 1  # cached


async def test_more_than_100_commands_a_minute_are_refused(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    await start_service(sqlite_url)
    for _ in range(100):
        response = await emulator.send_command("/shift", "33", user=DEPLOYER, channel=CHANNEL)
        assert "not an allowed step" in (response.json or {})["text"]
    response = await emulator.send_command("/shift", "10", user=DEPLOYER, channel=CHANNEL)
    assert "at most 100 commands per minute" in (response.json or {})["text"]

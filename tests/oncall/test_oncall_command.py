"""`/oncall api`: who is on call now and next, per level, in the asker's time zone."""

from __future__ import annotations

from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Config
from bot.pagerduty.models import PagerDutyIncident
from bot.sandbox.emulator import SlackEmulator
from tests.escalation.conftest import Bot
from tests.oncall.conftest import ADA, START, with_oncall
from tests.servers.pagerduty import PagerDutyServer

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"])


async def ask(bot: Bot, emulator: SlackEmulator, text: str, user: str = "U0000APR01") -> str:
    before = len(emulator.ephemerals)
    response = await emulator.send_command("/oncall", text, user=user, channel="C0000ALERT")
    assert response.status == 200
    await bot.running.settle()
    answers = [m for m in emulator.ephemerals[before:] if m.ephemeral_user == user]
    assert answers, "no answer"
    return "\n".join(m.text for m in answers)


async def test_oncall_names_the_person_and_the_next_one_per_level_in_the_askers_zone(
    database_url: str,
    start_bot: Any,
    emulator: SlackEmulator,
    example_config: Config,
    account: PagerDutyServer,
) -> None:
    account.oncall.max_limit = 2  # three blocks ahead: PagerDuty's `more` must be followed
    bot: Bot = await start_bot(
        database_url, config=with_oncall(example_config), clock=FakeClock(START)
    )
    answer = await ask(bot, emulator, "api")
    assert "On call for api" in answer
    # pagerduty.users maps Olu; Ada is found by address; Lin has no Slack account.
    assert f"Level 1 (API primary): <@U0000ONC01> until Mon 09:00, then <@{ADA}>" in answer
    assert "Level 2 (API secondary): Lin &lt;Lee&gt; until" in answer
    calls = account.calls_to("/oncalls")
    assert [c.query.split("offset=")[1] for c in calls] == ["0", "2"]  # paged by `more`
    # The schedule's escalation policy, so that every level is shown.
    assert account.calls_to("/schedules/PSCHED1")
    assert "escalation_policy_ids[]=PEP0001" in calls[0].query
    assert account.api_token not in calls[0].query  # the token is a header, never in the URL
    lookups = [c for c in emulator.calls("users.lookupByEmail")]
    assert [c.args.get("email") for c in lookups] == ["ada@example.com", "lin@elsewhere.example"]

    # A second question is answered from the cached addresses; after an hour they are
    # looked up again (a person may have changed address or joined Slack).
    await ask(bot, emulator, "api")
    assert len(emulator.calls("users.lookupByEmail")) == 2
    bot.running.clock.advance(3601)
    await ask(bot, emulator, "api")
    assert len(emulator.calls("users.lookupByEmail")) == 4


async def test_the_service_is_followed_to_its_escalation_policy(
    database_url: str,
    start_bot: Any,
    emulator: SlackEmulator,
    example_config: Config,
    account: PagerDutyServer,
) -> None:
    bot: Bot = await start_bot(
        database_url, config=with_oncall(example_config), clock=FakeClock(START)
    )
    answer = await ask(bot, emulator, "PSERVC1")
    assert "<@U0000ONC01> until Mon 09:00" in answer and "Level 2" in answer
    [service] = account.calls_to("/services/PSERVC1")
    assert service.method == "GET"
    [oncalls] = account.calls_to("/oncalls")
    assert "escalation_policy_ids[]=PEP0001" in oncalls.query
    assert "include[]=users" in oncalls.query


async def test_an_unknown_name_lists_the_known_ones(
    database_url: str,
    start_bot: Any,
    emulator: SlackEmulator,
    example_config: Config,
    account: PagerDutyServer,
) -> None:
    bot: Bot = await start_bot(
        database_url, config=with_oncall(example_config), clock=FakeClock(START)
    )
    answer = await ask(bot, emulator, "paymnts")
    assert answer == "No schedule or service called `paymnts`. Known: `PSERVC1`, `api`."
    assert not account.calls_to("/oncalls")


@pytest.mark.parametrize("status", [401, 429, 500])
async def test_pagerduty_refusing_answers_with_the_last_known_on_call(
    database_url: str,
    start_bot: Any,
    emulator: SlackEmulator,
    example_config: Config,
    account: PagerDutyServer,
    status: int,
) -> None:
    bot: Bot = await start_bot(
        database_url, config=with_oncall(example_config), clock=FakeClock(START)
    )
    await ask(bot, emulator, "api")
    bot.running.clock.advance(3600)
    account.fail_next("/oncalls", status=status)
    answer = await ask(bot, emulator, "api")
    assert "PagerDuty did not answer; last known on-call for api as of Thu 13:00:" in answer
    assert "<@U0000ONC01> until Mon 09:00" in answer


async def test_pagerduty_unreachable_before_any_answer_says_so(
    database_url: str,
    start_bot: Any,
    emulator: SlackEmulator,
    example_config: Config,
    account: PagerDutyServer,
) -> None:
    bot: Bot = await start_bot(
        database_url,
        config=with_oncall(example_config),
        clock=FakeClock(START),
        settings={"pagerduty_api_url": "http://127.0.0.1:9"},
    )
    answer = await ask(bot, emulator, "api")
    assert answer == "PagerDuty did not answer, and no on-call is known for api yet."


def page_button(message: Any) -> dict[str, Any] | None:
    for block in message.blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == "oncall.page":
                return dict(element)
    return None


async def test_a_responder_can_page_them_when_nothing_is_open_and_an_outsider_cannot(
    database_url: str,
    start_bot: Any,
    emulator: SlackEmulator,
    example_config: Config,
    account: PagerDutyServer,
) -> None:
    bot: Bot = await start_bot(
        database_url, config=with_oncall(example_config), clock=FakeClock(START)
    )
    await ask(bot, emulator, "api", user="U0000OUT01")  # not in alerts.responders
    assert page_button(emulator.ephemerals[-1]) is None

    await ask(bot, emulator, "api")  # Ari is in S0000ONCAL, the responders
    answer = emulator.ephemerals[-1]
    button = page_button(answer)
    assert button is not None and button["value"] == "api"
    response = await emulator.send_block_action(
        user="U0000APR01",
        action_id="oncall.page",
        value="api",
        channel="C0000ALERT",
        message_ts=answer.ts,
    )
    assert response.status == 200
    await bot.tick()
    [trigger] = [e for e in bot.events("trigger") if e["dedup_key"].startswith("chatops:oncall:")]
    assert "the on-call of api" in trigger["payload"]["summary"]
    assert "Paging the on-call for api through PagerDuty." in emulator.ephemerals[-1].text

    # Once PagerDuty has told the bot of an open incident, the button is not offered.
    async with bot.service.sessions.begin() as session:
        session.add(
            PagerDutyIncident(
                incident_id="PINC001",
                status="triggered",
                service_id="PSERVC1",
                created_at=bot.now(),
                updated_at=bot.now(),
            )
        )
    await ask(bot, emulator, "PSERVC1")
    assert page_button(emulator.ephemerals[-1]) is None

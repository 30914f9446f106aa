"""Declaring an incident: automatically for a P0, by the Declare incident button for a
P1, or by `/incident declare`; each makes one channel with its people and its summary."""

from __future__ import annotations

import aiohttp

from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import StartService
from tests.incidents_flow.conftest import (
    ONCALL,
    OUTSIDER,
    P0_CHANNEL,
    buttons,
    incident_command,
    new_channels,
    p0,
    p1,
    settle,
    summary,
    text_of,
    the_channel,
    told,
    until,
    with_incidents,
)


async def test_a_p0_with_auto_declare_gets_one_channel_with_its_people_summary_and_announcement(
    database_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    config = with_incidents(example_config, auto_declare=["P0"], invite=["U0000APR02"])
    bot = await start_service(database_url, config=config)
    await bot.deliver(p0())
    await bot.deliver(p0())  # the same group again: still one incident
    await settle(bot)

    channel = the_channel(emulator)
    name = new_channels(emulator)[channel]
    assert name.startswith("inc-") and name.endswith("-apidown")
    members = emulator.channels.of(channel).members
    # The responders (S0000ONCAL: olu and ari) and incidents.invite.
    assert {"U0000ONC01", "U0000APR01", "U0000APR02"} <= set(members)
    pinned = summary(emulator, channel)
    assert "Incident #1" in text_of(pinned) and "Investigating" in text_of(pinned)
    state = emulator.channels.of(channel)
    assert "Incident #1" in state.purpose and "P0" in state.topic
    announced = [m for m in emulator.messages(P0_CHANNEL) if "Incident #1 declared" in m.text]
    assert len(announced) == 1 and f"<#{channel}>" in announced[0].text
    alert = next(m for m in emulator.messages(P0_CHANNEL) if "ApiDown" in text_of(m))
    assert f"<#{channel}>" in text_of(alert)  # the alert names its incident's channel
    assert "incident.declare" not in buttons(alert)
    assert any(f"<#{channel}>" in r.text for r in emulator.replies(P0_CHANNEL, alert.ts))
    assert len(emulator.calls("conversations.create")) == 1


async def test_two_clicks_on_declare_incident_for_a_p1_make_one_incident(
    database_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    bot = await start_service(database_url, config=with_incidents(example_config))
    await bot.deliver(p1())
    await settle(bot)
    alert = emulator.messages("C0000ALERT")[-1]
    value = buttons(alert)["incident.declare"]
    for user in (ONCALL, "U0000APR01"):
        await emulator.send_block_action(
            user=user,
            action_id="incident.declare",
            value=value,
            channel="C0000ALERT",
            message_ts=alert.ts,
        )
    await settle(bot)

    channel = the_channel(emulator)
    assert ONCALL in emulator.channels.of(channel).members
    assert "P1" in text_of(summary(emulator, channel))
    assert any("already part of incident #1" in t for t in told(emulator, "U0000APR01"))
    current = emulator.message("C0000ALERT", alert.ts)
    assert current is not None and "incident.declare" not in buttons(current)


async def test_an_outsider_cannot_declare_from_the_alert(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    bot = await start_service(sqlite_url, config=with_incidents(example_config))
    await bot.deliver(p1())
    await settle(bot)
    alert = emulator.messages("C0000ALERT")[-1]
    await emulator.send_block_action(
        user=OUTSIDER,
        action_id="incident.declare",
        value=buttons(alert)["incident.declare"],
        channel="C0000ALERT",
        message_ts=alert.ts,
    )
    await until(bot, lambda: told(emulator, OUTSIDER))
    await settle(bot)
    assert new_channels(emulator) == {}


async def test_declare_by_hand_and_a_taken_name_gets_a_suffix(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    bot = await start_service(sqlite_url, config=with_incidents(example_config))
    emulator.add_channel("C0TAKEN001", "inc-2026-01-01-checkout-is-down")
    await incident_command(
        bot, emulator, "declare Checkout is down! --severity P0", user=ONCALL, channel="C0000ALERT"
    )
    assert any("Declared incident #1" in t for t in told(emulator, ONCALL))
    channel = the_channel(emulator)
    assert new_channels(emulator)[channel] == "inc-2026-01-01-checkout-is-down-2"


async def test_the_sandbox_page_shows_the_new_channel_with_its_pinned_summary(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    bot = await start_service(sqlite_url, config=with_incidents(example_config))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{emulator.url.rstrip('/')}/_emulator/state") as response:
            before = (await response.json())["version"]
        await incident_command(bot, emulator, "declare DB slow", user=ONCALL, channel="C0000ALERT")
        async with http.get(f"{emulator.url.rstrip('/')}/_emulator/state") as response:
            state = await response.json()
    assert state["version"] != before  # the page's stream tells it to redraw
    shown = {c["name"]: c for c in state["channels"]}
    channel = shown["inc-2026-01-01-db-slow"]
    assert any("Incident #1" in m["text"] for m in channel["messages"])


async def test_a_restart_between_the_channel_and_the_rest_makes_no_second_channel(
    database_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    config = with_incidents(example_config, auto_declare=["P0"])
    first = await start_service(database_url, config=config)
    await first.deliver(p0())
    await first.settle()  # the channel is created and recorded; nothing after it yet
    assert len(emulator.channels.state) == 1
    await first.stop()

    second = await start_service(database_url, config=config)
    await settle(second)
    await settle(second)
    channel = the_channel(emulator)
    assert "Incident #1" in text_of(summary(emulator, channel))
    assert [c for c in emulator.calls("conversations.create") if c.response["ok"]][1:] == []
    assert len([m for m in emulator.messages(P0_CHANNEL) if "Incident #1 declared" in m.text]) == 1

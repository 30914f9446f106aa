"""Answers reach the person wherever they typed or clicked (issue 23, point 2).

Through the service wired as `chatops serve` wires it, against the emulator: a DM of
two people and a private channel are conversations the bot is not in, where Slack
refuses `chat.postEphemeral` (`channel_not_found`) but takes the request's response_url.
"""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.sandbox import payloads
from bot.sandbox.emulator import Message, SlackEmulator, default_workspace
from bot.sandbox.store import BOT_USER_ID
from bot.slack.answer_context import Answering, answering
from bot.storage.models import SlackResponseUrl
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, RunningService, StartService
from tests.operations.conftest import APPROVERS, CHANNEL, DEPLOYER, Flow

DM = "D0000DMOTH"  # a DM between the deployer and a colleague: the bot is not in it
PRIVATE = "C0000PRIVT"  # a private channel the bot was never invited to
ONCALL = "U0000ONC01"


def outside_conversations(emulator: SlackEmulator) -> None:
    emulator.add_channel(DM, "dana-ari", is_private=True, is_member=False)
    emulator.add_channel(PRIVATE, "ops-private", is_private=True, is_member=False)


def refused_ephemerals(emulator: SlackEmulator, channel: str) -> list[object]:
    return [
        c.response
        for c in emulator.calls("chat.postEphemeral")
        if c.args.get("channel") == channel and not c.ok
    ]


def dm_texts(emulator: SlackEmulator, user: str) -> list[str]:
    """What the bot posted in its own DM with `user` (opened with conversations.open)."""
    channel = emulator.membership.ims.get(user)
    return [] if channel is None else [m.text for m in emulator.messages(channel)]


@pytest.mark.parametrize("where", [DM, PRIVATE])
async def test_deploy_typed_where_the_bot_is_not_is_answered_there_through_response_url(
    database_url: str, start_service: StartService, emulator: SlackEmulator, where: str
) -> None:
    outside_conversations(emulator)
    flow = Flow(await start_service(database_url), emulator)

    response = await flow.command("/deploy", "api v1.4.0 production", channel=where)

    # The ack says at once that it was received and where the request goes.
    assert response.json is not None
    assert response.json["response_type"] == "ephemeral"
    ack = response.json["text"]
    assert ack.startswith("Got it") and "/deploy api v1.4.0 production" in ack
    assert f"<#{CHANNEL}>" in ack
    # The request is in the service's channel ...
    assert "v1.4.0" in flow.text(flow.latest().ts)
    # ... and the typist is told so where they typed, through the response_url.
    answers = [r for r in emulator.responses if r.channel == where and r.user == DEPLOYER]
    assert [r.status for r in answers] == [200]
    assert f"Approval request posted in <#{CHANNEL}>" in answers[0].text
    assert answers[0].response_type == "ephemeral"
    assert [m.text for m in emulator.ephemerals if m.channel == where] == [answers[0].text]
    assert refused_ephemerals(emulator, where) == []  # never tried where Slack refuses


@pytest.mark.parametrize("where", [DM, PRIVATE])
async def test_a_click_where_the_bot_is_not_is_answered_through_response_url(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, where: str
) -> None:
    """An alert message forwarded into a conversation the bot is not in: its buttons still
    reach the bot, and the refusal (not the group's own message) reaches the clicker."""
    outside_conversations(emulator)
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.alert("P1")
    original = next(
        m
        for channel in emulator.store.channel_messages
        for m in emulator.messages(channel)
        if payloads.find_element(m.blocks, "alert.ack")
    )
    shared = Message(
        ts=emulator.store.next_ts(),
        channel=where,
        text=original.text,
        blocks=copy.deepcopy(original.blocks),
        user=BOT_USER_ID,
    )
    emulator.store.add_message(shared)
    found = payloads.find_element(shared.blocks, "alert.ack")
    assert found is not None

    response = await emulator.send_block_action(
        user=ONCALL,
        action_id="alert.ack",
        value=str(found[1]["value"]),
        channel=where,
        message_ts=shared.ts,
    )
    assert response.status == 200
    await flow.settle()

    answers = [r for r in emulator.responses if r.channel == where and r.user == ONCALL]
    assert [r.status for r in answers] == [200]
    assert "button" in answers[0].text.lower()
    assert answers[0].body.get("replace_original") is False  # the shared message stays
    assert refused_ephemerals(emulator, where) == []
    assert dm_texts(emulator, ONCALL) == []


async def answer_six_times(bot: RunningService, emulator: SlackEmulator) -> list[str]:
    """`/deploy help` from the DM (answered in the ack alone), then six answers to that
    request, as a feature answering one request several times would queue them."""
    response = await emulator.send_command("/deploy", "help", user=DEPLOYER, channel=DM)
    assert response.status == 200 and response.json is not None
    async with bot.service.sessions() as session:
        row = (await session.scalars(select(SlackResponseUrl))).one()
    assert row.uses == 0 and row.url == response.sent["response_url"]
    body = {"channel_id": DM, "user_id": DEPLOYER, "response_url": row.url}
    texts = [f"answer number {i}" for i in range(1, 7)]
    answering(Answering(row.id, DM, DEPLOYER))
    try:
        for text in texts:
            await bot.service.answers.ephemeral(body, text)
    finally:
        answering(None)
    await bot.settle()
    return texts


async def test_the_sixth_use_of_a_response_url_goes_to_the_dm_instead(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    outside_conversations(emulator)
    bot = await start_service(database_url)
    texts = await answer_six_times(bot, emulator)

    posts = [r for r in emulator.responses if r.channel == DM]
    assert [(r.text, r.status) for r in posts] == [(t, 200) for t in texts[:5]]  # no 6th try
    assert dm_texts(emulator, DEPLOYER) == texts[5:]
    # The DM is a post of its own in the outbox: paced there, and found again after a crash.
    [dm_post] = emulator.messages(emulator.membership.ims[DEPLOYER])
    assert (dm_post.metadata or {}).get("event_type") == "chatops_outbox"
    async with bot.service.sessions() as session:
        assert (await session.scalars(select(SlackResponseUrl.uses))).one() == 5
    assert refused_ephemerals(emulator, DM) == []


async def test_a_response_url_slack_calls_expired_falls_back_to_the_dm(
    sqlite_url: str, start_service: StartService
) -> None:
    """The bot's clock says the URL is fresh, Slack's (the emulator's) that its 30 minutes
    are over: Slack's 404 `expired_url` sends the answer to the DM."""
    now = [1000.0]
    emulator = SlackEmulator(token=BOT_TOKEN, signing_secret=SIGNING_SECRET, clock=lambda: now[0])
    default_workspace(emulator)
    outside_conversations(emulator)
    await emulator.start()
    try:
        bot = await start_service(sqlite_url, slack_api_url=emulator.base_url)
        emulator.bot_url = f"{bot.url}/slack/events"
        response = await emulator.send_command("/deploy", "help", user=DEPLOYER, channel=DM)
        async with bot.service.sessions() as session:
            row = (await session.scalars(select(SlackResponseUrl))).one()
        now[0] += 30 * 60 + 1
        answering(Answering(row.id, DM, DEPLOYER))
        try:
            await bot.service.answers.ephemeral({"channel_id": DM, "user_id": DEPLOYER}, "late")
        finally:
            answering(None)
        await bot.settle()

        assert response.status == 200
        assert [(r.status, r.error) for r in emulator.responses] == [(404, "expired_url")]
        assert dm_texts(emulator, DEPLOYER) == ["late"]
    finally:
        await emulator.stop()


async def test_the_outcome_reaches_a_requester_who_typed_where_the_bot_is_not_by_dm(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    outside_conversations(emulator)
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.command("/deploy", "api v1.4.0 production", channel=PRIVATE)
    ts = flow.latest().ts

    for approver in APPROVERS:  # reactions: no response_url comes with them
        await flow.react(ts, approver)

    told = dm_texts(emulator, DEPLOYER)
    assert len(told) == 1
    assert "/deploy api v1.4.0 production" in told[0] and "Approved" in told[0]
    assert f"<#{CHANNEL}>" in told[0]
    # Nothing was tried where Slack refuses, and the command's own answer used its URL.
    assert refused_ephemerals(emulator, PRIVATE) == []
    assert [r.status for r in emulator.responses if r.channel == PRIVATE] == [200]


async def test_an_expired_request_is_told_to_its_requester_and_not_twice(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    """A timer's outcome too; a requester who typed in the request's channel sees it there."""
    outside_conversations(emulator)
    flow = Flow(await start_service(sqlite_url), emulator)
    await flow.command("/deploy", "api v1.4.0 production", channel=DM)
    await flow.command("/deploy", "api v1.4.0 staging")  # typed in the request's channel
    flow.bot.clock.advance(timedelta(minutes=16))
    await flow.sweep()
    await flow.sweep()

    told = dm_texts(emulator, DEPLOYER)
    assert len(told) == 1 and "production" in told[0] and "Expired" in told[0]

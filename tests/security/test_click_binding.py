"""A button acts only on the object the clicked message was posted for: a signed click
whose value names another alert group, or an incident the bot never posted, changes
nothing and is audited."""

from __future__ import annotations

import json

import aiohttp
from sqlalchemy import select

from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import AlertGroup, AuditEvent
from tests.conftest import BOT_TOKEN, RunningService, StartService
from tests.escalation.conftest import pd_server, start_bot
from tests.pagerduty_flow.conftest import bot_with_posted_incident

__all__ = ["pd_server", "start_bot"]  # the PagerDuty fixtures, used here too
from tests.support.payloads import notification


async def fire_two(bot: RunningService, emulator: SlackEmulator) -> dict[str, str]:
    """Two groups in C0000ALERT; their message ts by alert name."""
    for name in ("DiskFull", "QueueBacklog"):
        await bot.deliver(notification(f'{{}}:{{alertname="{name}"}}', labels={"alertname": name}))
    await bot.settle()
    return {
        name: m.ts
        for m in emulator.messages("C0000ALERT")
        for name in ("DiskFull", "QueueBacklog")
        if name in m.text
    }


async def unrelated_message(emulator: SlackEmulator, channel: str) -> str:
    """A message in `channel` that no alert group, incident or checklist was posted as."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emulator.base_url}chat.postMessage",
            json={"channel": channel, "text": "lunch?"},
            headers={"Authorization": f"Bearer {BOT_TOKEN}"},
        ) as response,
    ):
        return str((await response.json())["ts"])


async def group_ids(bot: RunningService) -> dict[str, AlertGroup]:
    async with bot.service.sessions() as session:
        groups = (await session.scalars(select(AlertGroup))).all()
    return {g.group_labels.get("alertname") or g.common_labels["alertname"]: g for g in groups}


async def test_ack_and_silence_act_only_on_the_group_of_the_clicked_message(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    posted = await fire_two(bot, emulator)
    groups = await group_ids(bot)
    other = str(groups["QueueBacklog"].id)
    emulator.add_channel("C0000OTHER", "elsewhere")
    unrelated = await unrelated_message(emulator, "C0000OTHER")

    # The DiskFull message's click, naming QueueBacklog's group; and one from a message in
    # another channel that is not the bot's at all.
    for channel, ts in (("C0000ALERT", posted["DiskFull"]), ("C0000OTHER", unrelated)):
        for action_id in ("alert.ack", "alert.silence", "runbook.open"):
            await emulator.send_block_action(
                user="U0000ONC01",
                action_id=action_id,
                value=other,
                channel=channel,
                message_ts=ts,
                block_id="alert-actions",
            )
    await bot.settle()

    groups = await group_ids(bot)
    assert groups["QueueBacklog"].acked_by is None
    assert groups["DiskFull"].acked_by is None
    assert not emulator.replies("C0000ALERT", posted["QueueBacklog"])
    async with bot.service.sessions() as session:
        refusals = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action.like("alert.%.refused"))
            )
        ).all()
    assert len(refusals) == 4
    assert {r.details["reason"] for r in refusals} == {"button not from the group's message"}
    assert all("does not belong" in e.text for e in emulator.ephemerals)
    assert len(emulator.ephemerals) == 6

    # The button on QueueBacklog's own message still works.
    await emulator.send_block_action(
        user="U0000ONC01",
        action_id="alert.ack",
        value=other,
        channel="C0000ALERT",
        message_ts=posted["QueueBacklog"],
    )
    await bot.settle()
    assert (await group_ids(bot))["QueueBacklog"].acked_by == "U0000ONC01"


async def test_pagerduty_buttons_act_only_on_incidents_the_bot_posted(
    sqlite_url: str, start_bot, example_config
) -> None:
    bot, posted, message = await bot_with_posted_incident(
        sqlite_url, start_bot, example_config, "Queue backlog"
    )
    never_posted = bot.pd.open_incident("Someone else's incident")

    for incident_id in (never_posted.id, "PZZZ999"):
        await bot.emulator.send_block_action(
            user="U0000ONC01",
            action_id="pagerduty.resolve",
            value=incident_id,
            channel="C0000INCID",
            message_ts=message.ts,
        )
    await bot.running.settle()
    assert never_posted.status == "triggered" and posted.status == "triggered"
    assert not [c for c in bot.pd.calls if c.method == "PUT"]
    assert len(bot.emulator.ephemerals) == 2
    assert all("does not belong" in e.text for e in bot.emulator.ephemerals)
    shown = bot.emulator.message("C0000INCID", message.ts)
    assert shown is not None and "pagerduty.resolve" in json.dumps(shown.blocks)

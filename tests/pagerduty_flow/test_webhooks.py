"""PagerDuty webhooks into Slack: signatures, routing, and acknowledgements both ways."""

from __future__ import annotations

import json
from datetime import timedelta

import aiohttp

from bot.pagerduty.signature import sign
from tests.escalation.conftest import WEBHOOK_SECRET, Bot
from tests.pagerduty_flow.conftest import bot_with_posted_incident
from tests.support.payloads import notification

MIN = timedelta(minutes=1)
ADA = {"id": "PUSER01", "type": "user_reference", "summary": "Ada Lovelace"}


def p1() -> dict:  # type: ignore[type-arg]
    return notification(labels={"alertname": "ErrorRate", "severity": "error"})


def p0() -> dict:  # type: ignore[type-arg]
    return notification(labels={"alertname": "ApiDown", "severity": "critical"})


async def post_raw(bot: Bot, body: bytes, signature: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-PagerDuty-Signature"] = signature
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{bot.url}/webhooks/pagerduty", data=body, headers=headers) as response,
    ):
        return response.status


async def test_a_signed_incident_is_routed_to_its_service_channel_with_buttons(
    database_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(database_url)
    incident = bot.pd.open_incident("Database replication lag")
    url = f"{bot.url}/webhooks/pagerduty"
    status, _ = await bot.pd.send_webhook(
        url, "incident.triggered", bot.pd.webhook_data(incident), WEBHOOK_SECRET
    )
    assert status == 200
    await bot.running.settle()
    [message] = bot.emulator.messages("C0000INCID")  # pagerduty.services: PSERVC1 -> C0000INCID
    text = json.dumps(message.blocks)
    assert "Database replication lag" in text and "pagerduty.ack" in text
    assert "pagerduty.resolve" in text

    incident.status = "acknowledged"
    status, _ = await bot.pd.send_webhook(
        url, "incident.escalated", bot.pd.webhook_data(incident, assignees=[ADA]), WEBHOOK_SECRET
    )
    assert status == 200
    await bot.running.settle()
    assert len(bot.emulator.messages("C0000INCID")) == 1  # updated in place
    shown = bot.emulator.message("C0000INCID", message.ts)
    assert shown is not None and "Escalated to Ada Lovelace" in json.dumps(shown.blocks)


async def test_unsigned_or_wrongly_signed_webhooks_get_401(sqlite_url: str, start_bot) -> None:
    bot: Bot = await start_bot(sqlite_url)
    incident = bot.pd.open_incident("x")
    url = f"{bot.url}/webhooks/pagerduty"
    data = bot.pd.webhook_data(incident)
    wrong, _ = await bot.pd.send_webhook(url, "incident.triggered", data, "not-the-secret")
    unsigned, _ = await bot.pd.send_webhook(url, "incident.triggered", data, "", signature="")
    assert (wrong, unsigned) == (401, 401)
    assert await post_raw(bot, b"{}", None) == 401
    await bot.running.settle()
    assert bot.emulator.messages("C0000INCID") == []


async def test_unknown_event_types_are_accepted_and_ignored(sqlite_url: str, start_bot) -> None:
    bot: Bot = await start_bot(sqlite_url)
    status, body = await bot.pd.send_webhook(
        f"{bot.url}/webhooks/pagerduty",
        "service.updated",
        {"id": "PSERVC1", "type": "service"},
        WEBHOOK_SECRET,
    )
    assert status == 200 and "ignored" in body


async def test_malformed_and_oversize_bodies_get_400_and_413(sqlite_url: str, start_bot) -> None:
    bot: Bot = await start_bot(sqlite_url)
    for body in (b"not json", b"[1, 2]", b'{"event": {"event_type": "incident.triggered"}}'):
        assert await post_raw(bot, body, sign(body, WEBHOOK_SECRET)) == 400
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert await post_raw(bot, big, sign(big, WEBHOOK_SECRET)) == 413


async def test_an_acknowledgement_in_pagerduty_updates_the_message_and_stops_the_timer(
    database_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(database_url)
    await bot.fire(p1())
    await bot.at(5 * MIN)  # paged
    incident = bot.pd.incidents["chatops:group:1"]
    incident.status = "acknowledged"
    status, body = await bot.pd.send_webhook(
        f"{bot.url}/webhooks/pagerduty",
        "incident.acknowledged",
        bot.pd.webhook_data(incident),
        WEBHOOK_SECRET,
        agent=ADA,
    )
    assert status == 200 and "acknowledged" in body
    await bot.running.settle()
    [message] = bot.emulator.messages("C0000ALERT")
    shown = bot.emulator.message("C0000ALERT", message.ts)
    assert shown is not None
    assert "Acknowledged in PagerDuty by Ada Lovelace" in json.dumps(shown.blocks)
    assert "alert.ack" not in json.dumps(shown.blocks)
    await bot.at(60 * MIN)
    assert bot.replies("C0000ALERT", "Still firing") == []
    assert bot.events("acknowledge") == []  # not sent back to PagerDuty


async def test_a_slack_acknowledgement_goes_to_pagerduty_once_and_its_echo_changes_nothing(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await bot.fire(p0())
    await bot.ack_in_slack("C0000INCID")
    await bot.at(1 * MIN)
    assert len(bot.events("acknowledge")) == 1
    incident = bot.pd.incidents["chatops:group:1"]
    assert incident.status == "acknowledged"
    replies_before = len(bot.emulator.calls("chat.postMessage"))
    status, body = await bot.pd.send_webhook(
        f"{bot.url}/webhooks/pagerduty",
        "incident.acknowledged",
        bot.pd.webhook_data(incident),
        WEBHOOK_SECRET,
        agent=ADA,
    )
    assert status == 200 and "unchanged" in body
    await bot.at(20 * MIN)
    assert len(bot.events("acknowledge")) == 1
    assert len(bot.emulator.calls("chat.postMessage")) == replies_before


async def test_incident_buttons_act_in_pagerduty_as_the_clicker(
    sqlite_url: str, start_bot, example_config
) -> None:
    bot, incident, message = await bot_with_posted_incident(
        sqlite_url, start_bot, example_config, "Queue backlog"
    )

    await bot.emulator.send_block_action(
        user="U0000APR01",
        action_id="pagerduty.ack",
        value=incident.id,
        channel="C0000INCID",
        message_ts=message.ts,
    )
    await bot.running.settle()
    [ephemeral] = bot.emulator.ephemerals
    assert "pagerduty:" in ephemeral.text and "U0000APR01" in ephemeral.text
    assert incident.status == "triggered"

    await bot.emulator.send_block_action(
        user="U0000ONC01",
        action_id="pagerduty.ack",
        value=incident.id,
        channel="C0000INCID",
        message_ts=message.ts,
    )
    await bot.running.settle()
    assert incident.status == "acknowledged" and incident.updated_by == ["ada@example.com"]
    shown = bot.emulator.message("C0000INCID", message.ts)
    assert shown is not None and "pagerduty.ack" not in json.dumps(shown.blocks)


async def test_a_replayed_webhook_is_applied_once(sqlite_url: str, start_bot) -> None:
    bot: Bot = await start_bot(sqlite_url)
    incident = bot.pd.open_incident("Disk full on db-2")
    body = json.dumps(
        {
            "event": {
                "id": "01REPLAYEDEVENT0000000001",
                "event_type": "incident.triggered",
                "resource_type": "incident",
                "occurred_at": "2026-11-27T01:00:00Z",
                "agent": None,
                "client": None,
                "data": bot.pd.webhook_data(incident),
            }
        }
    ).encode()
    signature = sign(body, WEBHOOK_SECRET)
    assert await post_raw(bot, body, signature) == 200
    assert await post_raw(bot, body, signature) == 200  # a 2xx, so PagerDuty stops retrying
    await bot.running.settle()
    assert len(bot.emulator.messages("C0000INCID")) == 1
    assert (
        'chatops_webhook_rejected_total{reason="replayed",source="pagerduty"} 1.0'
        in await bot.metrics()
    )

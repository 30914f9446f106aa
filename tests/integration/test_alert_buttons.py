"""The alert message's buttons, clicked through signed Slack requests."""

from __future__ import annotations

import json
import time

import aiohttp
from sqlalchemy import select

from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import AlertGroup, AuditEvent
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService
from tests.support.payloads import notification


async def fire(bot: RunningService, emulator: SlackEmulator) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{bot.url}/webhooks/alertmanager",
            json=notification(),
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        ) as response,
    ):
        assert response.status == 200
    await bot.settle()
    [message] = emulator.messages("C0000ALERT")
    return message.ts


async def test_acknowledge_records_who_and_when_and_updates_in_place(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(database_url)
    ts = await fire(bot, emulator)
    response = await emulator.send_block_action(
        user="U0000ONC01", action_id="alert.ack", value="1", channel="C0000ALERT", message_ts=ts
    )
    assert response.status == 200
    await bot.settle()

    message = emulator.message("C0000ALERT", ts)
    assert message is not None
    assert "Acknowledged by <@U0000ONC01>" in json.dumps(message.blocks)
    assert "alert.ack" not in json.dumps(message.blocks)  # the button is gone
    assert any("acknowledged" in r.text for r in emulator.replies("C0000ALERT", ts))
    async with bot.service.sessions() as session:
        group = (await session.scalars(select(AlertGroup))).one()
        assert group.acked_by == "U0000ONC01" and group.acked_at == bot.clock.now()
        events = (await session.scalars(select(AuditEvent.action))).all()
    assert "alert.acknowledged" in events


async def test_a_second_acknowledge_tells_only_the_clicker(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    ts = await fire(bot, emulator)
    for user in ("U0000ONC01", "U0000APR01"):
        await emulator.send_block_action(
            user=user,
            action_id="alert.ack",
            value="1",
            channel="C0000ALERT",
            message_ts=ts,
            block_id="alert-actions-1",  # the second person clicks a button already gone for the first
        )
        await bot.settle()
    [ephemeral] = emulator.ephemerals
    assert ephemeral.ephemeral_user == "U0000APR01"
    assert "Already acknowledged by <@U0000ONC01>" in ephemeral.text
    assert len([r for r in emulator.replies("C0000ALERT", ts) if "acknowledged" in r.text]) == 1


async def test_a_tampered_button_value_changes_nothing(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    ts = await fire(bot, emulator)
    for value in ("1; DROP TABLE alerts", "-1", "999999", "x" * 5000):
        await emulator.send_block_action(
            user="U0000ONC01",
            action_id="alert.ack",
            value=value,
            channel="C0000ALERT",
            message_ts=ts,
            block_id="alert-actions-1",
        )
    await bot.settle()
    async with bot.service.sessions() as session:
        assert (await session.scalars(select(AlertGroup))).one().acked_by is None
    assert len(emulator.ephemerals) == 4  # each clicker is told, nothing else happens


async def test_silence_without_alertmanager_url_says_how_to_enable_it(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    ts = await fire(bot, emulator)
    await emulator.send_block_action(
        user="U0000ONC01", action_id="alert.silence", value="1", channel="C0000ALERT", message_ts=ts
    )
    await bot.settle()
    [ephemeral] = emulator.ephemerals
    assert "ALERTMANAGER_URL" in ephemeral.text


async def test_unsigned_wrongly_signed_and_stale_slack_requests_are_refused(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    ts = await fire(bot, emulator)
    body = (
        b"payload="
        + json.dumps(
            {
                "type": "block_actions",
                "actions": [{"action_id": "alert.ack", "value": "1"}],
                "user": {"id": "U0000ONC01"},
            }
        ).encode()
    )
    form = "application/x-www-form-urlencoded"
    assert (await emulator.send_raw(body, {}, form)).status == 401
    wrong = {
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "0" * 64,
    }
    assert (await emulator.send_raw(body, wrong, form)).status == 401
    stale = emulator.sign(body, timestamp=int(time.time()) - 6 * 60)
    assert (await emulator.send_raw(body, stale, form)).status == 401
    await bot.settle()
    async with bot.service.sessions() as session:
        assert (await session.scalars(select(AlertGroup))).one().acked_by is None
    assert emulator.message("C0000ALERT", ts) is not None


async def test_health_and_readiness(sqlite_url: str, start_service: StartService) -> None:
    bot = await start_service(sqlite_url)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{bot.url}/healthz") as response:
            assert response.status == 200
        async with http.get(f"{bot.url}/readyz") as response:
            assert response.status == 200 and (await response.json())["status"] == "ready"
        from bot.storage import migrate

        await migrate.downgrade(bot.service.engine, "base")
        async with http.get(f"{bot.url}/readyz") as response:
            assert response.status == 503
            assert "migrations pending" in (await response.json())["database"]
        await migrate.upgrade(bot.service.engine)


async def test_a_replayed_slack_request_is_refused_and_runs_nothing(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(sqlite_url)
    ts = await fire(bot, emulator)
    first = await emulator.send_block_action(
        user="U0000ONC01", action_id="alert.ack", value="1", channel="C0000ALERT", message_ts=ts
    )
    assert first.status == 200
    replay = await emulator.send_raw(
        first.sent_body, first.sent_headers, "application/x-www-form-urlencoded"
    )
    assert replay.status == 401 and "replayed" in replay.text
    await bot.settle()
    assert len([r for r in emulator.replies("C0000ALERT", ts) if "acknowledged" in r.text]) == 1


async def test_only_responders_may_acknowledge_when_the_config_says_so(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, example_config
) -> None:
    alerts = example_config.alerts.model_copy(update={"responders": ["S0000ONCAL"]})
    config = example_config.model_copy(update={"alerts": alerts})
    bot = await start_service(sqlite_url, config=config)
    ts = await fire(bot, emulator)
    await emulator.send_block_action(
        user="U0000OUT01", action_id="alert.ack", value="1", channel="C0000ALERT", message_ts=ts
    )
    await bot.settle()
    async with bot.service.sessions() as session:
        assert (await session.scalars(select(AlertGroup))).one().acked_by is None
        refusals = (await session.scalars(select(AuditEvent.action))).all()
    assert "alert.acknowledge.refused" in refusals
    [refusal] = emulator.ephemerals
    assert refusal.ephemeral_user == "U0000OUT01" and "responders" in refusal.text

    # A member of the on-call user group (resolved through usergroups.users.list) may.
    await emulator.send_block_action(
        user="U0000ONC01", action_id="alert.ack", value="1", channel="C0000ALERT", message_ts=ts
    )
    await bot.settle()
    async with bot.service.sessions() as session:
        assert (await session.scalars(select(AlertGroup))).one().acked_by == "U0000ONC01"
    assert emulator.calls("usergroups.users.list")

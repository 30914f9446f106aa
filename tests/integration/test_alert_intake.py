"""Alertmanager notifications become one Slack message per group, updated in place.

Runs on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from sqlalchemy import func, select

from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import WebhookDelivery
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService
from tests.support.payloads import example, notification, resolved

AUTH = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}


async def post(
    bot: RunningService, payload: object, headers: dict[str, str] | None = None
) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{bot.url}/webhooks/alertmanager",
            json=payload,
            headers=AUTH if headers is None else headers,
        ) as response,
    ):
        return response.status, await response.json()


async def test_a_firing_group_is_posted_once_with_its_details(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(database_url)
    status, body = await post(bot, example("high-latency-firing"))
    assert status == 200 and body["status"] == "accepted"
    await bot.settle()

    [message] = emulator.messages("C0000ALERT")
    text = str(message.blocks)
    assert "P2" in text and "HighLatency" in text
    assert "API p95 latency above 2s" in text
    assert "sergas" in text  # the namespace label matters
    actions = next(b for b in message.blocks if b["type"] == "actions")["elements"]
    assert [a["text"]["text"] for a in actions][:2] == ["Acknowledge", "Silence 1h"]
    assert "silences/new" in text  # a silence link into Alertmanager


async def test_redelivery_of_the_same_notification_posts_nothing_new(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(database_url)
    payload = example("high-latency-firing")
    for _ in range(3):
        status, _ = await post(bot, payload)
        assert status == 200
    await bot.settle()
    assert len(emulator.calls("chat.postMessage")) == 1
    assert emulator.calls("chat.update") == []
    async with bot.service.sessions() as session:
        outcomes = (
            await session.scalars(select(WebhookDelivery.outcome).order_by(WebhookDelivery.id))
        ).all()
    assert outcomes == ["new", "duplicate", "duplicate"]


async def test_resolving_updates_the_message_in_place_and_replies_in_thread(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(database_url)
    await post(bot, example("high-latency-firing"))
    await bot.settle()
    [message] = emulator.messages("C0000ALERT")

    await post(bot, example("high-latency-resolved"))
    await bot.settle()

    assert len(emulator.messages("C0000ALERT")) == 1  # no second top-level message
    [update] = emulator.calls("chat.update")
    assert update.args["ts"] == message.ts
    updated = emulator.message("C0000ALERT", message.ts)
    assert updated is not None and "RESOLVED" in str(updated.blocks)
    assert not any(b["type"] == "actions" for b in updated.blocks)  # no buttons when resolved
    [reply] = emulator.replies("C0000ALERT", message.ts)
    assert "Resolved after 25m" in reply.text


async def test_firing_again_reopens_the_message_with_a_thread_reply(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(database_url)
    firing = notification()
    await post(bot, firing)
    await bot.settle()
    await post(bot, resolved(firing))
    await bot.settle()
    again = notification(starts_at="2026-01-01T13:00:00Z")
    await post(bot, again)
    await bot.settle()
    [message] = emulator.messages("C0000ALERT")
    replies = [r.text for r in emulator.replies("C0000ALERT", message.ts)]
    assert len(replies) == 2 and "Firing again" in replies[1]
    assert "FIRING" in str(emulator.message("C0000ALERT", message.ts).blocks)  # type: ignore[union-attr]


async def test_priority_and_channel_follow_labels_and_escalation(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(database_url)
    await post(bot, example("api-down-p0"))  # priority label P0 -> incident channel
    await post(bot, example("payments-zoho-errors"))  # team=payments route, error -> P1
    await bot.settle()
    [p0] = emulator.messages("C0000INCID")
    assert "P0" in str(p0.blocks) and "<!subteam^S0000ONCAL>" in str(p0.blocks)
    [p1] = emulator.messages("C0000PAYMT")
    assert "P1" in str(p1.blocks)


async def test_every_accepted_delivery_is_in_the_database_before_the_answer(
    database_url: str, start_service: StartService
) -> None:
    bot = await start_service(database_url)  # workers off: nothing processes in between
    for index in range(5):
        status, body = await post(bot, notification(group_key=f"g{index}"))
        assert status == 200
        async with bot.service.sessions() as session:
            stored = await session.get(WebhookDelivery, body["delivery"])
            assert stored is not None and stored.state == "pending"
            assert stored.body["groupKey"] == f"g{index}"
    async with bot.service.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 5


async def test_slack_down_keeps_the_message_until_slack_is_back(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(database_url)
    emulator.down = True
    await post(bot, notification())
    await bot.settle()
    assert emulator.messages("C0000ALERT") == []
    metrics = await _metrics(bot)
    assert "chatops_outbox_depth 1.0" in metrics

    emulator.down = False
    bot.clock.advance(timedelta(minutes=1))  # past the backoff
    await bot.settle()
    assert len(emulator.messages("C0000ALERT")) == 1
    assert "chatops_outbox_depth 0.0" in await _metrics(bot)


async def test_outbox_honours_retry_after_on_429(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(database_url)
    emulator.fail_next("chat.postMessage", status=429, retry_after=30)
    await post(bot, notification())
    await bot.settle()
    assert emulator.messages("C0000ALERT") == []
    bot.clock.advance(timedelta(seconds=29))
    await bot.settle()
    assert emulator.messages("C0000ALERT") == []  # Retry-After not over yet
    bot.clock.advance(timedelta(seconds=2))
    await bot.settle()
    assert len(emulator.messages("C0000ALERT")) == 1
    assert (
        'chatops_slack_calls_total{method="chat.postMessage",outcome="ratelimited"} 1.0'
        in await _metrics(bot)
    )


async def test_outbox_retries_after_a_500(
    database_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    bot = await start_service(database_url)
    emulator.fail_next("chat.postMessage", status=500, times=2)
    await post(bot, notification())
    await bot.settle()
    bot.clock.advance(timedelta(seconds=2))
    await bot.settle()
    assert emulator.messages("C0000ALERT") == []
    bot.clock.advance(timedelta(seconds=4))
    await bot.settle()
    assert len(emulator.messages("C0000ALERT")) == 1
    assert 'outcome="server_error"} 2.0' in await _metrics(bot)


async def _metrics(bot: RunningService) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{bot.url}/metrics") as response:
        return await response.text()


async def test_a_delivery_that_breaks_processing_waits_and_the_rest_go_through(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, monkeypatch: object
) -> None:
    import bot.alerts.processor

    real = bot.alerts.processor.process_notification

    async def flaky(session, notification, config, now, listeners=(), **kw):  # type: ignore[no-untyped-def]
        if notification.group_key == "poison":
            raise RuntimeError("a bug")
        return await real(session, notification, config, now, listeners, **kw)

    monkeypatch.setattr(bot.alerts.processor, "process_notification", flaky)  # type: ignore[attr-defined]
    bot_ = await start_service(sqlite_url)
    for key in ("before", "poison", "after"):
        status, _ = await post(bot_, notification(group_key=key))
        assert status == 200
    await bot_.settle()
    async with bot_.service.sessions() as session:
        rows = (
            await session.execute(
                select(WebhookDelivery.state, WebhookDelivery.error).order_by(WebhookDelivery.id)
            )
        ).all()
    # The broken one waits for its retry (tests/integration/test_delivery_failures.py).
    assert [r[0] for r in rows] == ["done", "pending", "done"]
    assert "RuntimeError: a bug" in rows[1][1]
    assert len(emulator.messages("C0000ALERT")) == 2


async def test_group_listeners_hear_each_change_inside_its_transaction(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator
) -> None:
    heard: list[tuple[str, str, str]] = []

    class Recorder:
        async def group_changed(self, session, group, change, now, actor):  # type: ignore[no-untyped-def]
            heard.append((group.group_key_text, change, actor))

    bot_ = await start_service(sqlite_url)
    bot_.service.group_listeners.append(Recorder())
    firing = notification(group_key="g1")
    await post(bot_, firing)
    await bot_.settle()
    ts = emulator.messages("C0000ALERT")[0].ts
    await emulator.send_block_action(
        user="U0000ONC01", action_id="alert.ack", value="1", channel="C0000ALERT", message_ts=ts
    )
    await post(bot_, resolved(firing))
    await bot_.settle()
    assert heard == [
        ("g1", "opened", "system"),
        ("g1", "acknowledged", "U0000ONC01"),
        ("g1", "resolved", "system"),
    ]

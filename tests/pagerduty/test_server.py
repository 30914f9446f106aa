"""The PagerDuty stand-in itself: it must answer as documented for the client tests to mean
anything, and its signed webhooks must pass the bot's verifier and parser end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from actions.pagerduty.events import EventPayload, EventsClient, PagerEvent
from alerts.pagerduty import PagerDutyWebhook, WebhookPayloadError, parse_webhook
from bot.pagerduty.signature import HEADER, verify_signature
from tests.pagerduty.conftest import API_TOKEN
from tests.servers.pagerduty import PagerDutyServer

SECRET = "webhook-secret-current"
OLD_SECRET = "webhook-secret-previous"


async def _enqueue(
    session: aiohttp.ClientSession, server: PagerDutyServer, event: Any
) -> tuple[int, dict[str, Any]]:
    async with session.post(server.url + "/v2/enqueue", json=event) as response:
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"routing_key": "short", "event_action": "resolve", "dedup_key": "k"}, "routing_key"),
        ({"routing_key": None, "event_action": "resolve", "dedup_key": "k"}, "routing_key"),
        ({"event_action": "snooze", "dedup_key": "k"}, "event_action"),
        ({"event_action": "acknowledge"}, "'dedup_key' is required"),
        ({"event_action": "resolve", "dedup_key": "k" * 256}, "dedup_key"),
        ({"event_action": "trigger"}, "'payload'"),
        ({"event_action": "trigger", "payload": {"source": "a", "severity": "info"}}, "summary"),
        ({"event_action": "trigger", "payload": {"summary": "a", "severity": "info"}}, "source"),
        ({"event_action": "trigger", "payload": {"summary": "a", "source": "b"}}, "severity"),
        (
            {
                "event_action": "trigger",
                "payload": {"summary": "a", "source": "b", "severity": "x"},
            },
            "must be one of",
        ),
        (
            {
                "event_action": "trigger",
                "payload": {"summary": "s" * 1025, "source": "b", "severity": "info"},
            },
            "1024",
        ),
    ],
)
async def test_enqueue_rejects_invalid_events_as_documented(
    session: aiohttp.ClientSession,
    pd_server: PagerDutyServer,
    routing_key: str,
    event: dict[str, Any],
    error: str,
) -> None:
    status, body = await _enqueue(session, pd_server, {"routing_key": routing_key, **event})

    assert status == 400
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    assert any(error in item for item in body["errors"]), body["errors"]
    assert pd_server.incidents == {}


async def test_enqueue_rejects_non_json(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    async with session.post(pd_server.url + "/v2/enqueue", data=b"{oops") as response:
        assert response.status == 400
        assert (await response.json())["status"] == "invalid event"


async def test_events_for_unknown_or_resolved_alerts_are_accepted_and_dropped(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str
) -> None:
    trigger = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": "k",
        "payload": {"summary": "a", "source": "b", "severity": "info"},
    }
    status, body = await _enqueue(
        session,
        pd_server,
        {"routing_key": routing_key, "event_action": "resolve", "dedup_key": "k"},
    )
    assert (status, body["dedup_key"]) == (202, "k")
    assert pd_server.incidents == {}

    await _enqueue(session, pd_server, trigger)
    first = pd_server.incidents["k"]
    await _enqueue(session, pd_server, {**trigger, "event_action": "resolve"})
    await _enqueue(session, pd_server, {**trigger, "event_action": "acknowledge"})
    assert first.status == "resolved", "an acknowledge after resolve is dropped"

    status, body = await _enqueue(session, pd_server, trigger)
    assert status == 202
    assert pd_server.incidents["k"] is not first, "a trigger after resolve opens a new incident"
    assert pd_server.incidents["k"].status == "triggered"


async def test_rest_auth_and_from_checks(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    incident = pd_server.open_incident("x")
    url = f"{pd_server.url}/incidents/{incident.id}"
    auth = {"Authorization": f"Token token={API_TOKEN}"}
    update = {"incident": {"type": "incident_reference", "status": "acknowledged"}}

    async with session.get(url) as response:
        assert response.status == 401
    async with session.put(url, json=update, headers={"From": "a@example.com"}) as response:
        assert response.status == 401
    async with session.put(url, json=update, headers=auth) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == 2016
    bad_status = {"incident": {"type": "incident_reference", "status": "snoozed"}}
    headers = {**auth, "From": "a@example.com"}
    async with session.put(url, json=bad_status, headers=headers) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == 1003
    assert incident.status == "triggered"
    assert [call.method for call in pd_server.calls] == ["GET", "PUT", "PUT", "PUT"]


async def test_a_from_header_naming_no_user_is_refused_once_users_are_given(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    incident = pd_server.open_incident("x")
    url = f"{pd_server.url}/incidents/{incident.id}"
    update = {"incident": {"type": "incident_reference", "status": "acknowledged"}}
    pd_server.users = {"ada@example.com"}
    headers = {"Authorization": f"Token token={API_TOKEN}", "From": "bob@example.com"}

    async with session.put(url, json=update, headers=headers) as response:
        assert response.status == 400
        assert (await response.json())["error"] == {
            "message": "Requester User Not Found",
            "code": 1008,
            "errors": [],
        }
    assert incident.status == "triggered"
    headers["From"] = "Ada@Example.com"  # PagerDuty matches logins regardless of case
    async with session.put(url, json=update, headers=headers) as response:
        assert response.status == 200
    assert incident.status == "acknowledged"


# -- webhooks end to end ---------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[PagerDutyWebhook]]]:
    """A minimal `/webhooks/pagerduty` route: verify the raw body, then parse it."""
    received: list[PagerDutyWebhook] = []

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verify_signature(raw, request.headers.get(HEADER), [SECRET, OLD_SECRET]):
            return web.Response(status=401, text="bad signature")
        try:
            received.append(parse_webhook(raw))
        except WebhookPayloadError as exc:
            return web.Response(status=400, text=str(exc))
        return web.Response(status=202, text="accepted")

    app = web.Application()
    app.router.add_post("/webhooks/pagerduty", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/webhooks/pagerduty", received
    finally:
        await runner.cleanup()


async def test_page_then_signed_webhook_round_trip(
    session: aiohttp.ClientSession,
    pd_server: PagerDutyServer,
    routing_key: str,
    receiver: tuple[str, list[PagerDutyWebhook]],
) -> None:
    url, received = receiver
    payload = EventPayload(summary="api down", source="api-prod-1", severity="critical")
    await EventsClient(session, pd_server.url).send(
        PagerEvent.trigger(routing_key, payload, dedup_key="group-1")
    )
    incident = pd_server.incidents["group-1"]
    responder = {"id": "PTUXL6G", "type": "user_reference", "summary": "User 123"}

    status, text = await pd_server.send_webhook(
        url, "incident.escalated", pd_server.webhook_data(incident, assignees=[responder]), SECRET
    )

    assert (status, text) == (202, "accepted")
    [hook] = received
    assert hook.routed
    assert hook.event.event_type == "incident.escalated"
    assert hook.incident is not None
    assert hook.incident.id == incident.id
    assert hook.incident.incident_key == "group-1"
    assert hook.incident.service.id == "PSERVC1"
    assert [a.id for a in hook.incident.assignees] == ["PTUXL6G"]


async def test_webhook_signed_with_a_rotated_out_secret_pair_is_accepted(
    pd_server: PagerDutyServer, receiver: tuple[str, list[PagerDutyWebhook]]
) -> None:
    url, received = receiver
    data = pd_server.webhook_data(pd_server.open_incident("x"))

    status, _ = await pd_server.send_webhook(
        url, "incident.acknowledged", data, ["brand-new-secret", OLD_SECRET], agent=None
    )

    assert status == 202
    assert len(received) == 1
    assert pd_server.sent_webhooks, "the server keeps what it sent"


async def test_webhook_with_wrong_secret_or_forged_header_is_refused(
    pd_server: PagerDutyServer, receiver: tuple[str, list[PagerDutyWebhook]]
) -> None:
    url, received = receiver
    data = pd_server.webhook_data(pd_server.open_incident("x"))

    wrong, _ = await pd_server.send_webhook(url, "incident.resolved", data, "guessed-secret")
    forged, _ = await pd_server.send_webhook(
        url, "incident.resolved", data, SECRET, signature="v1=" + "0" * 64
    )

    assert (wrong, forged) == (401, 401)
    assert received == []


async def test_signed_but_invalid_payload_is_a_400_naming_the_field(
    pd_server: PagerDutyServer, receiver: tuple[str, list[PagerDutyWebhook]]
) -> None:
    url, received = receiver
    data = pd_server.webhook_data(pd_server.open_incident("x"))
    del data["id"]  # the one incident field the receiver cannot act without

    status, text = await pd_server.send_webhook(url, "incident.triggered", data, SECRET)

    assert status == 400
    assert "event.data.id" in text
    assert received == []

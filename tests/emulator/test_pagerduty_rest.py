"""The sandbox PagerDuty's REST API, driven by the bot's own incidents client.

The Acknowledge/Resolve buttons on the bot's PagerDuty messages call `GET`/`PUT
/incidents/{id}` as the person who clicked; in the sandbox those calls land here. The
tests use `actions.pagerduty.incidents.IncidentsClient` itself, so they also prove the
emulator answers what the bot sends, and raw requests for what the client never sends
(no From header, a bad body), which must be refused exactly as the test server
tests/servers/pagerduty.py refuses them. Each change must show in the panel and come back to the bot
as a signed v3 webhook, exactly as a change made in the panel does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from actions.pagerduty import PermanentPagerError
from actions.pagerduty.incidents import IncidentsClient
from bot.sandbox.emulator import SlackEmulator
from tests.servers.pagerduty import PagerDutyServer

TOKEN = "sandbox-rest-token"
SECRET = "sandbox-webhook-secret"
ROUTING_KEY = "r" * 32
OLU, ARI = "olu@example.com", "ari@example.com"


@dataclass
class Webhooks:
    """The bot's /webhooks/pagerduty, recording what the emulator delivers."""

    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0

    def types(self) -> list[str]:
        return [w["event"]["event_type"] for w in self.received]


@pytest.fixture
async def webhooks(emulator: SlackEmulator) -> AsyncIterator[Webhooks]:
    seen = Webhooks()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "v1=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if request.headers.get("X-PagerDuty-Signature") != expected:
            seen.bad_signatures += 1
        seen.received.append(json.loads(body))
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/webhooks/pagerduty", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    emulator.pagerduty.webhook_url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/pagerduty"
    emulator.pagerduty.webhook_secret = SECRET
    try:
        yield seen
    finally:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(emulator: SlackEmulator, http: aiohttp.ClientSession) -> IncidentsClient:
    emulator.pagerduty.api_token = TOKEN
    return IncidentsClient(http, f"{emulator.url}pagerduty/api", token=TOKEN)


async def page(http: aiohttp.ClientSession, emulator: SlackEmulator, summary: str) -> str:
    """Trigger through the Events API, as the bot pages; the new incident's id."""
    event = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": summary,
        "payload": {"summary": summary, "source": "sandbox", "severity": "critical"},
    }
    async with http.post(f"{emulator.url}pagerduty/v2/enqueue", json=event) as answer:
        assert answer.status == 202
    return emulator.pagerduty.incidents[-1].id


async def panel(http: aiohttp.ClientSession, emulator: SlackEmulator) -> list[dict[str, Any]]:
    async with http.get(f"{emulator.url}_emulator/pagerduty/incidents") as answer:
        incidents: list[dict[str, Any]] = (await answer.json())["incidents"]
        return incidents


async def test_acknowledged_then_resolved_through_the_rest_api_as_the_person_who_clicked(
    emulator: SlackEmulator,
    http: aiohttp.ClientSession,
    api: IncidentsClient,
    webhooks: Webhooks,
) -> None:
    incident_id = await page(http, emulator, "API down")
    shown = await api.get(incident_id)
    assert (shown.status, shown.incident_number, shown.title) == ("triggered", 1, "API down")
    assert shown.incident_key == "API down" and shown.urgency == "high"
    assert [a.assignee.summary for a in shown.assignments] == ["Olu Oncall"]
    assert shown.service is not None and shown.service.id == "PSERVC1"

    acked = await api.acknowledge(incident_id, OLU)
    assert acked.status == "acknowledged"
    listed = (await panel(http, emulator))[0]
    assert listed["status"] == "acknowledged"
    assert "Acknowledged by Olu Oncall (from Slack" in listed["log"][-1]["text"]

    resolved = await api.resolve(incident_id, ARI)
    assert resolved.status == "resolved" and resolved.assignments == []
    assert (await panel(http, emulator))[0]["status"] == "resolved"

    await emulator.wait_for(lambda: len(webhooks.received) == 3)
    assert webhooks.types() == ["incident.triggered", "incident.acknowledged", "incident.resolved"]
    assert webhooks.bad_signatures == 0
    agents = [w["event"]["agent"] for w in webhooks.received]
    assert agents[0] is None  # triggered by the integration, not a person
    assert [a["summary"] for a in agents[1:]] == ["Olu Oncall", "Ari Approver"]
    assert webhooks.received[2]["event"]["data"]["status"] == "resolved"


async def test_the_rest_representation_is_not_the_webhooks(
    emulator: SlackEmulator, http: aiohttp.ClientSession, api: IncidentsClient
) -> None:
    incident_id = await page(http, emulator, "Disk full")
    await api.acknowledge(incident_id, OLU)
    headers = {"Authorization": f"Token token={TOKEN}"}
    # GET takes the incident number as well as its id.
    async with http.get(f"{emulator.url}pagerduty/api/incidents/1", headers=headers) as answer:
        assert answer.status == 200
        incident = (await answer.json())["incident"]
    assert incident["id"] == incident_id and incident["type"] == "incident"
    assert incident["summary"] == "[#1] Disk full" and "number" not in incident
    assert incident["self"].endswith(f"/pagerduty/api/incidents/{incident_id}")
    assert [a["acknowledger"]["summary"] for a in incident["acknowledgements"]] == ["Olu Oncall"]
    assert incident["last_status_change_by"]["summary"] == "Olu Oncall"


async def test_acknowledging_again_is_accepted_and_changes_nothing(
    emulator: SlackEmulator,
    http: aiohttp.ClientSession,
    api: IncidentsClient,
    webhooks: Webhooks,
) -> None:
    incident_id = await page(http, emulator, "Queue backlog")
    await api.acknowledge(incident_id, OLU)
    again = await api.acknowledge(incident_id, ARI)
    assert again.status == "acknowledged"
    await emulator.wait_for(lambda: len(webhooks.received) == 2)
    assert webhooks.types() == ["incident.triggered", "incident.acknowledged"]


async def test_a_resolved_incident_cannot_be_changed(
    emulator: SlackEmulator,
    http: aiohttp.ClientSession,
    api: IncidentsClient,
    webhooks: Webhooks,
) -> None:
    incident_id = await page(http, emulator, "Cache cold")
    await api.resolve(incident_id, OLU)
    with pytest.raises(PermanentPagerError) as refused:
        await api.acknowledge(incident_id, OLU)
    assert (refused.value.status, refused.value.code) == (400, 1001)
    assert "Incident Already Resolved" in refused.value.message
    assert (await panel(http, emulator))[0]["status"] == "resolved"
    await emulator.wait_for(lambda: len(webhooks.received) == 2)
    assert webhooks.types() == ["incident.triggered", "incident.resolved"]


async def test_a_wrong_or_missing_token_is_refused(
    emulator: SlackEmulator, http: aiohttp.ClientSession, api: IncidentsClient
) -> None:
    incident_id = await page(http, emulator, "Latency")
    wrong = IncidentsClient(http, f"{emulator.url}pagerduty/api", token="not-the-token")
    for call in (wrong.get(incident_id), wrong.acknowledge(incident_id, OLU)):
        with pytest.raises(PermanentPagerError) as refused:
            await call
        assert (refused.value.status, refused.value.code) == (401, 2006)
    url = f"{emulator.url}pagerduty/api/incidents/{incident_id}"
    async with http.get(url) as answer:  # no Authorization header at all
        assert answer.status == 401
        assert (await answer.json())["error"] == {
            "message": "Authentication failed",
            "code": 2006,
            "errors": [],
        }
    emulator.pagerduty.api_token = None  # REST off: even the right token is refused
    with pytest.raises(PermanentPagerError):
        await api.get(incident_id)
    assert emulator.pagerduty.incidents[0].status == "triggered"


async def test_an_unknown_incident_is_not_found(
    emulator: SlackEmulator, api: IncidentsClient
) -> None:
    for call in (api.get("QNOSUCHONE"), api.resolve("QNOSUCHONE", OLU), api.get("7")):
        with pytest.raises(PermanentPagerError) as refused:
            await call
        assert (refused.value.status, refused.value.code) == (404, 2100)


async def put(
    http: aiohttp.ClientSession, url: str, body: Any, **headers: str
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Token token={TOKEN}", **headers}
    async with http.put(url, data=json.dumps(body), headers=headers) as answer:
        return answer.status, (await answer.json())["error"]


ACK = {"incident": {"type": "incident_reference", "status": "acknowledged"}}


async def test_updates_need_a_from_header_naming_a_user_and_a_valid_body(
    emulator: SlackEmulator,
    http: aiohttp.ClientSession,
    api: IncidentsClient,
    webhooks: Webhooks,
) -> None:
    incident_id = await page(http, emulator, "Errors spiking")
    url = f"{emulator.url}pagerduty/api/incidents/{incident_id}"

    status, error = await put(http, url, ACK)
    assert (status, error["code"]) == (400, 2016) and '"From" header' in error["message"]
    status, error = await put(http, url, ACK, From="nobody@example.com")
    assert (status, error["code"], error["message"]) == (400, 1008, "Requester User Not Found")
    for body in ({}, {"incident": {"status": "resolved"}}, [1]):
        status, error = await put(http, url, body, From=OLU)
        assert (status, error["code"], error["message"]) == (400, 2001, "Invalid Input Provided")
        assert error["errors"]
    triggered = {"incident": {"type": "incident", "status": "triggered"}}
    status, error = await put(http, url, triggered, From=OLU)
    assert (status, error["code"]) == (400, 1003)
    assert error["errors"] == ["status must be acknowledged or resolved."]

    assert emulator.pagerduty.incidents[0].status == "triggered"
    await emulator.wait_for(lambda: webhooks.received)
    assert webhooks.types() == ["incident.triggered"]
    # The From address is matched as PagerDuty matches logins: regardless of case.
    assert (await api.acknowledge(incident_id, "OLU@Example.com")).status == "acknowledged"


async def test_a_login_pagerduty_does_not_know_is_a_permanent_refusal_that_names_it(
    emulator: SlackEmulator, http: aiohttp.ClientSession, api: IncidentsClient
) -> None:
    incident_id = await page(http, emulator, "Login unknown")
    with pytest.raises(PermanentPagerError) as refused:
        await api.acknowledge(incident_id, "nobody@example.com")
    assert (refused.value.status, refused.value.code) == (400, 1008)
    # What the clicker is shown: the address to fix first, PagerDuty's own words after.
    assert refused.value.message.startswith(
        "PagerDuty has no user with the login nobody@example.com ("
    )
    assert "Requester User Not Found" in refused.value.message
    assert emulator.pagerduty.incidents[0].status == "triggered"


# The same bad update, sent to the sandbox and to the test server: (what is wrong, extra
# headers, body, the documented status and code both must answer).
BAD_UPDATES = [
    ("no API token", {"Authorization": ""}, ACK, 401, 2006),
    ("no From header", {}, ACK, 400, 2016),
    ("From names no user", {"From": "nobody@example.com"}, ACK, 400, 1008),
    ("no incident in the body", {"From": OLU}, {"status": "resolved"}, 400, 2001),
    ("a body that is not an object", {"From": OLU}, [1], 400, 2001),
    (
        "a wrong type",
        {"From": OLU},
        {"incident": {"type": "user", "status": "resolved"}},
        400,
        2001,
    ),
    ("a status nobody sets", {"From": OLU}, {"incident": {"type": "incident"}}, 400, 1003),
]


async def answer(
    http: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str]
) -> tuple[int, Any]:
    headers = {"Authorization": f"Token token={TOKEN}", **headers}
    async with http.put(url, data=json.dumps(body), headers=headers) as response:
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [case[1:] for case in BAD_UPDATES],
    ids=[case[0] for case in BAD_UPDATES],
)
async def test_the_sandbox_and_the_test_server_refuse_a_bad_update_alike(
    emulator: SlackEmulator,
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    body: Any,
    status: int,
    code: int,
) -> None:
    emulator.pagerduty.api_token = TOKEN
    sandbox_url = f"{emulator.url}pagerduty/api/incidents/{await page(http, emulator, 'Alike')}"
    logins = [person.email for person in emulator.pagerduty.people()]
    async with PagerDutyServer(api_token=TOKEN, users=logins) as server:
        server_url = f"{server.url}/incidents/{server.open_incident('Alike').id}"
        from_sandbox = await answer(http, sandbox_url, body, headers)
        from_server = await answer(http, server_url, body, headers)
    assert from_sandbox == from_server
    assert (from_sandbox[0], from_sandbox[1]["error"]["code"]) == (status, code)
    assert set(from_sandbox[1]["error"]) == {"message", "code", "errors"}


async def test_the_sandbox_and_the_test_server_agree_on_resolved_and_unknown_incidents(
    emulator: SlackEmulator, http: aiohttp.ClientSession, api: IncidentsClient
) -> None:
    sandbox_id = await page(http, emulator, "Done already")
    await api.resolve(sandbox_id, OLU)
    from_sandbox, from_server = [], []
    async with PagerDutyServer(api_token=TOKEN, users=[OLU]) as server:
        opened = server.open_incident("Done already")
        opened.status = "resolved"
        for in_sandbox, in_server in ((sandbox_id, opened.id), ("QNOSUCHONE", "QNOSUCHONE")):
            url = f"{emulator.url}pagerduty/api/incidents/{in_sandbox}"
            from_sandbox.append(await answer(http, url, ACK, {"From": OLU}))
            url = f"{server.url}/incidents/{in_server}"
            from_server.append(await answer(http, url, ACK, {"From": OLU}))
    assert from_sandbox == from_server
    assert [(status, body["error"]["code"]) for status, body in from_sandbox] == [
        (400, 1001),
        (404, 2100),
    ]


async def test_panel_and_rest_api_share_one_account(
    emulator: SlackEmulator,
    http: aiohttp.ClientSession,
    api: IncidentsClient,
    webhooks: Webhooks,
) -> None:
    opened = {"title": "Checkout slow (reported by support)", "user": "U0000APR01"}
    async with http.post(f"{emulator.url}_emulator/pagerduty/incidents", json=opened) as answer:
        assert answer.status == 200
        incident_id = (await answer.json())["incident"]["id"]
    async with http.post(
        f"{emulator.url}_emulator/pagerduty/incidents/{incident_id}/acknowledge",
        json={"user": "U0000ONC01"},
    ) as answer:
        assert answer.status == 200

    shown = await api.get(incident_id)
    assert shown.status == "acknowledged" and shown.title == opened["title"]
    # Nobody paged it through the bot: its key is none of the bot's dedup keys.
    assert shown.incident_key and shown.incident_key != opened["title"]
    await emulator.wait_for(lambda: len(webhooks.received) == 2)
    triggered, acknowledged = (w["event"] for w in webhooks.received)
    assert triggered["event_type"] == "incident.triggered"
    assert triggered["agent"]["summary"] == "Ari Approver"
    assert acknowledged["agent"] == {
        "id": "P0000ONC01",
        "type": "user_reference",
        "summary": "Olu Oncall",
    }

    async with http.post(f"{emulator.url}_emulator/pagerduty/incidents", json={}) as answer:
        assert answer.status == 400 and "title" in (await answer.json())["error"]

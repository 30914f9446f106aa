"""The REST incidents client against the stand-in: headers, updates, classification."""

from __future__ import annotations

import aiohttp
import pytest

from actions.pagerduty import InvalidIncidentId, PermanentPagerError, TemporaryPagerError
from actions.pagerduty.events import EventPayload, EventsClient, PagerEvent
from actions.pagerduty.incidents import ACCEPT, IncidentsClient, validate_incident_id
from tests.pagerduty.conftest import API_TOKEN
from tests.servers.pagerduty import PagerDutyServer

EMAIL = "oncall@example.com"


def _client(
    session: aiohttp.ClientSession, server: PagerDutyServer, token: str = API_TOKEN
) -> IncidentsClient:
    return IncidentsClient(session, server.url, token=token)


async def test_acknowledge_puts_the_documented_request_as_the_user(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    opened = pd_server.open_incident("Database down")

    incident = await _client(session, pd_server).acknowledge(opened.id, EMAIL)

    assert incident.id == opened.id
    assert incident.status == "acknowledged"
    assert opened.status == "acknowledged"
    assert opened.updated_by == [EMAIL]
    call = pd_server.calls_to(f"/incidents/{opened.id}")[0]
    assert call.method == "PUT"
    assert call.json == {"incident": {"type": "incident_reference", "status": "acknowledged"}}
    assert call.headers["Authorization"] == f"Token token={API_TOKEN}"
    assert call.headers["Accept"] == ACCEPT == "application/vnd.pagerduty+json;version=2"
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["From"] == EMAIL


async def test_resolve_and_get(session: aiohttp.ClientSession, pd_server: PagerDutyServer) -> None:
    opened = pd_server.open_incident("Disk full", dedup_key="group-7")
    client = _client(session, pd_server)

    resolved = await client.resolve(opened.id, EMAIL)
    fetched = await client.get(opened.id)

    assert resolved.status == fetched.status == "resolved"
    assert fetched.incident_number == opened.number
    assert fetched.title == "Disk full"
    assert fetched.incident_key == "group-7"
    assert fetched.service is not None and fetched.service.id == "PSERVC1"
    get_call = pd_server.calls[-1]
    assert get_call.method == "GET"
    assert "From" not in get_call.headers
    assert get_call.headers["Accept"] == ACCEPT


async def test_ack_from_slack_lands_on_the_incident_a_page_opened(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str
) -> None:
    payload = EventPayload(summary="api down", source="api", severity="critical")
    await EventsClient(session, pd_server.url).send(
        PagerEvent.trigger(routing_key, payload, dedup_key="g-9")
    )
    incident_id = pd_server.incidents["g-9"].id

    incident = await _client(session, pd_server).acknowledge(incident_id, EMAIL)

    assert incident.incident_key == "g-9"
    assert pd_server.incidents["g-9"].status == "acknowledged"


@pytest.mark.parametrize(
    "bad_id", ["", "pd00001", "../users/P1", "P1?status=resolved", "P1\n", "P1/notes", "Ü1"]
)
async def test_invalid_incident_ids_are_refused_before_any_request(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, bad_id: str
) -> None:
    client = _client(session, pd_server)

    for call in (client.acknowledge(bad_id, EMAIL), client.resolve(bad_id, EMAIL)):
        with pytest.raises(InvalidIncidentId):
            await call
    with pytest.raises(ValueError):
        await client.get(bad_id)
    with pytest.raises(PermanentPagerError):
        validate_incident_id(bad_id)
    assert pd_server.calls == []


@pytest.mark.parametrize("email", ["", "oncall", "on call@example.com", "a@b\r\nX-Evil: 1"])
async def test_updates_need_a_from_email(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, email: str
) -> None:
    opened = pd_server.open_incident("x")

    with pytest.raises(ValueError, match="from_email"):
        await _client(session, pd_server).acknowledge(opened.id, email)
    assert pd_server.calls == []


async def test_wrong_token_is_permanent_and_never_shown(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    opened = pd_server.open_incident("x")
    wrong = "wrong-token-value"

    with pytest.raises(PermanentPagerError) as caught:
        await _client(session, pd_server, token=wrong).acknowledge(opened.id, EMAIL)

    assert caught.value.status == 401
    assert caught.value.code == 2006
    assert "Authentication failed" in str(caught.value)
    assert wrong not in str(caught.value)
    assert opened.status == "triggered"


async def test_unknown_incident_is_permanent(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    with pytest.raises(PermanentPagerError) as caught:
        await _client(session, pd_server).get("PNOPE01")

    assert caught.value.status == 404


async def test_acknowledging_a_resolved_incident_keeps_pagerdutys_code(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    opened = pd_server.open_incident("x")
    client = _client(session, pd_server)
    await client.resolve(opened.id, EMAIL)

    with pytest.raises(PermanentPagerError) as caught:
        await client.acknowledge(opened.id, EMAIL)

    assert caught.value.code == 1001
    assert "Incident Already Resolved" in str(caught.value)


async def test_error_text_echoing_the_token_is_scrubbed(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    opened = pd_server.open_incident("x")
    pd_server.fail_next(
        f"/incidents/{opened.id}",
        403,
        body={"error": {"message": f"token {API_TOKEN} lacks access", "code": 2010}},
    )

    with pytest.raises(PermanentPagerError) as caught:
        await _client(session, pd_server).acknowledge(opened.id, EMAIL)

    assert API_TOKEN not in str(caught.value)
    assert "[api token]" in str(caught.value)
    assert API_TOKEN not in repr(_client(session, pd_server))


async def test_429_is_temporary_with_pagerdutys_reset_hint(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    opened = pd_server.open_incident("x")
    pd_server.fail_next(f"/incidents/{opened.id}", 429, headers={"ratelimit-reset": "12"})

    with pytest.raises(TemporaryPagerError) as caught:
        await _client(session, pd_server).acknowledge(opened.id, EMAIL)

    assert caught.value.status == 429
    assert caught.value.retry_after == 12.0
    assert caught.value.code == 2020
    assert opened.status == "triggered"


@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_is_temporary(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, status: int
) -> None:
    opened = pd_server.open_incident("x")
    pd_server.fail_next(f"/incidents/{opened.id}", status)
    client = _client(session, pd_server)

    with pytest.raises(TemporaryPagerError) as caught:
        await client.resolve(opened.id, EMAIL)

    assert caught.value.status == status
    assert len(pd_server.calls) == 1, "exactly one HTTP attempt"
    assert (await client.resolve(opened.id, EMAIL)).status == "resolved"


async def test_unreadable_success_body_is_temporary(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    opened = pd_server.open_incident("x")
    pd_server.fail_next(f"/incidents/{opened.id}", 200, body={"incident": {"id": opened.id}})

    with pytest.raises(TemporaryPagerError, match="unreadable incident"):
        await _client(session, pd_server).acknowledge(opened.id, EMAIL)


async def test_timeout_is_temporary(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    opened = pd_server.open_incident("x")
    pd_server.hang_next(f"/incidents/{opened.id}")
    client = IncidentsClient(
        session, pd_server.url, token=API_TOKEN, timeout=aiohttp.ClientTimeout(total=0.01)
    )

    with pytest.raises(TemporaryPagerError, match="timed out"):
        await client.get(opened.id)


def test_a_token_is_required(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="token"):
        IncidentsClient(session, token="")

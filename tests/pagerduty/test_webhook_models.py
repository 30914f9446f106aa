"""Parsing v3 webhook payloads, written after PagerDuty's documented examples."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.pagerduty import (
    ROUTED_EVENT_TYPES,
    PagerDutyWebhook,
    WebhookPayloadError,
    is_routed,
    is_unknown,
    parse_webhook,
)

USER = {
    "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
    "id": "PLH1HKV",
    "self": "https://api.pagerduty.com/users/PLH1HKV",
    "summary": "Tenex Engineer",
    "type": "user_reference",
}
SECOND_RESPONDER = {
    "html_url": "https://acme.pagerduty.com/users/PTUXL6G",
    "id": "PTUXL6G",
    "self": "https://api.pagerduty.com/users/PTUXL6G",
    "summary": "User 123",
    "type": "user_reference",
}


def incident_data(status: str = "triggered", **changes: Any) -> dict[str, Any]:
    """The documented `incident` event data (from the webhooks overview)."""
    data: dict[str, Any] = {
        "id": "PGR0VU2",
        "type": "incident",
        "self": "https://api.pagerduty.com/incidents/PGR0VU2",
        "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
        "number": 2,
        "status": status,
        "incident_key": "d3640fbd41094207a1c11e58e46b1662",
        "created_at": "2020-04-09T15:16:27Z",
        "title": "A little bump in the road",
        "service": {
            "html_url": "https://acme.pagerduty.com/services/PF9KMXH",
            "id": "PF9KMXH",
            "self": "https://api.pagerduty.com/services/PF9KMXH",
            "summary": "API Service",
            "type": "service_reference",
        },
        "assignees": [copy.deepcopy(SECOND_RESPONDER)],
        "escalation_policy": {
            "html_url": "https://acme.pagerduty.com/escalation_policies/PUS0KTE",
            "id": "PUS0KTE",
            "self": "https://api.pagerduty.com/escalation_policies/PUS0KTE",
            "summary": "Default",
            "type": "escalation_policy_reference",
        },
        "teams": [
            {
                "html_url": "https://acme.pagerduty.com/teams/PFCVPS0",
                "id": "PFCVPS0",
                "self": "https://api.pagerduty.com/teams/PFCVPS0",
                "summary": "Engineering",
                "type": "team_reference",
            }
        ],
        "priority": {
            "html_url": "https://acme.pagerduty.com/account/incident_priorities",
            "id": "PSO75BM",
            "self": "https://api.pagerduty.com/priorities/PSO75BM",
            "summary": "P1",
            "type": "priority_reference",
        },
        "urgency": "high",
        "conference_bridge": {
            "conference_number": "+1 1234123412,,987654321#",
            "conference_url": "https://example.com",
        },
        "resolve_reason": None,
    }
    data.update(changes)
    return data


def envelope(
    event_type: str, data: dict[str, Any], agent: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "event": {
            "id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
            "event_type": event_type,
            "resource_type": event_type.split(".", 1)[0],
            "occurred_at": "2020-10-02T18:45:22.169Z",
            "agent": agent,
            "client": {"name": "PagerDuty"} if agent else None,
            "data": data,
        }
    }


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


# (event type, incident status, agent): how each routed event arrives.
ROUTED_CASES = [
    ("incident.triggered", "triggered", None),
    ("incident.acknowledged", "acknowledged", USER),
    ("incident.unacknowledged", "triggered", None),  # the acknowledgement timed out
    ("incident.reopened", "triggered", USER),
    ("incident.delegated", "triggered", USER),
    ("incident.escalated", "triggered", None),  # the policy moved on by itself
    ("incident.reassigned", "triggered", USER),  # someone handed it over
    ("incident.resolved", "resolved", USER),
]


@pytest.mark.parametrize(("event_type", "status", "agent"), ROUTED_CASES)
def test_each_routed_event_type_parses(
    event_type: str, status: str, agent: dict[str, Any] | None
) -> None:
    hook = parse_webhook(body(envelope(event_type, incident_data(status), agent)))

    assert hook.routed
    assert hook.event.event_type == event_type
    assert hook.event.resource_type == "incident"
    assert hook.event.occurred_at == datetime(2020, 10, 2, 18, 45, 22, 169000, tzinfo=UTC)
    assert hook.incident is not None
    incident = hook.incident
    assert (incident.id, incident.number, incident.status) == ("PGR0VU2", 2, status)
    assert incident.title == "A little bump in the road"
    assert incident.html_url == "https://acme.pagerduty.com/incidents/PGR0VU2"
    assert incident.self_url == "https://api.pagerduty.com/incidents/PGR0VU2"
    assert incident.incident_key == "d3640fbd41094207a1c11e58e46b1662"
    assert incident.urgency == "high"
    assert incident.created_at == datetime(2020, 4, 9, 15, 16, 27, tzinfo=UTC)
    assert (incident.service.id, incident.service.summary) == ("PF9KMXH", "API Service")
    assert incident.service.html_url == "https://acme.pagerduty.com/services/PF9KMXH"
    assert [a.id for a in incident.assignees] == ["PTUXL6G"]
    assert incident.escalation_policy is not None
    assert incident.escalation_policy.summary == "Default"
    assert incident.priority is not None and incident.priority.summary == "P1"
    if agent is None:
        assert hook.event.agent is None
    else:
        assert hook.event.agent is not None and hook.event.agent.summary == "Tenex Engineer"


def test_reassigned_carries_the_new_assignees_and_who_reassigned() -> None:
    data = incident_data(assignees=[USER, SECOND_RESPONDER])
    hook = parse_webhook(body(envelope("incident.reassigned", data, agent=SECOND_RESPONDER)))

    assert hook.incident is not None
    assert [a.summary for a in hook.incident.assignees] == ["Tenex Engineer", "User 123"]
    assert hook.event.agent is not None and hook.event.agent.id == "PTUXL6G"
    assert hook.event.client is not None and hook.event.client.name == "PagerDuty"


def test_optional_incident_parts_may_be_null_or_absent() -> None:
    data = incident_data(priority=None, conference_bridge=None, incident_key=None)
    for key in ("assignees", "escalation_policy", "teams", "resolve_reason"):
        del data[key]

    hook = parse_webhook(body(envelope("incident.triggered", data)))

    assert hook.incident is not None
    assert hook.incident.priority is None
    assert hook.incident.assignees == ()
    assert hook.incident.escalation_policy is None


def test_documented_priority_updated_example_is_routed_with_its_priority() -> None:
    hook = parse_webhook(body(envelope("incident.priority_updated", incident_data(), USER)))

    assert hook.routed
    assert hook.incident is not None and hook.incident.priority is not None
    assert hook.incident.priority.summary == "P1"


def test_documented_service_event_keeps_raw_data() -> None:
    service = {
        "html_url": "https://acme.pagerduty.com/services/PF9KMXH",
        "id": "PF9KMXH",
        "self": "https://api.pagerduty.com/services/PF9KMXH",
        "summary": "testing service updates",
        "alert_creation": "create_alerts_and_incidents",
        "teams": [],
        "type": "service",
    }
    payload = envelope("service.updated", service)
    payload["incident"] = incident_data()  # never trusted: incidents come from event.data

    hook = parse_webhook(body(payload))

    assert not hook.routed
    assert hook.incident is None
    assert hook.event.data["summary"] == "testing service updates"


def test_a_documented_note_names_its_incident() -> None:
    note = {
        "incident": {"id": "PGR0VU2", "type": "incident_reference", "summary": "bump"},
        "id": "P2LA89X",
        "type": "incident_note",
        "content": "on it",
        "trimmed": False,
    }
    hook = parse_webhook(body(envelope("incident.annotated", note, USER)))

    assert hook.routed
    assert hook.incident is None and hook.activity is not None
    assert hook.incident_id == "PGR0VU2"
    assert hook.activity.content == "on it"


def test_unknown_event_types_parse_so_they_can_be_acknowledged() -> None:
    for data in ({"id": "X", "type": "incident_workflow"}, [1, 2], None, "text"):
        hook = parse_webhook(body(envelope("incident.workflow.completed", data, USER)))  # type: ignore[arg-type]

        assert not hook.routed
        assert is_unknown("incident.workflow.completed")
        assert hook.incident is None and hook.activity is None
    assert not is_unknown("service.updated")


def test_unknown_keys_are_ignored_at_every_level() -> None:
    data = incident_data(incident_type={"name": "major"}, future_field=[1, 2])
    data["service"]["new_service_field"] = True
    data["assignees"][0]["avatar"] = "https://example.com/a.png"
    payload = envelope("incident.triggered", data)
    payload["event"]["new_envelope_field"] = {"x": 1}
    payload["webhook_version"] = "3.1"

    hook = parse_webhook(body(payload))

    assert hook.incident is not None
    assert hook.incident.id == "PGR0VU2"
    assert not hasattr(hook.incident, "future_field")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("event", "event_type"), "event.event_type"),
        (("event", "id"), "event.id"),
        (("event", "data"), "event.data"),
        (("event", "data", "id"), "event.data.id"),
        (("event",), "event"),
    ],
)
def test_missing_fields_the_bot_needs_are_named(path: tuple[str | int, ...], expected: str) -> None:
    payload = envelope("incident.triggered", incident_data())
    parent: Any = payload
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]

    with pytest.raises(ValueError, match="invalid PagerDuty webhook") as caught:
        parse_webhook(body(payload))

    assert expected in str(caught.value)
    assert isinstance(caught.value, WebhookPayloadError)
    assert expected in caught.value.fields


def test_every_problem_is_named_not_just_the_first() -> None:
    payload = envelope("incident.annotated", {"content": "x"})
    del payload["event"]["id"]

    with pytest.raises(WebhookPayloadError) as caught:
        parse_webhook(body(payload))

    assert set(caught.value.fields) == {"event.id", "event.data.incident"}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("occurred_at",), None),
        (("data", "created_at"), None),  # real 2021 deliveries
        (("data", "conference_bridge"), {"conference_number": 12345, "conference_url": None}),
        (("data", "conference_bridge"), {"conference_number": ["+1 555"], "x": 1}),
        (("data", "number"), "two"),
        (("data", "status"), "snoozed"),
        (("data", "urgency"), "urgent"),
        (("data", "created_at"), "yesterday"),
        (("data", "assignees"), "PTUXL6G"),
        (("data", "assignees"), [{"summary": "no id"}, "PTUXL6G"]),
        (("data", "service"), None),
        (("data", "service"), "PF9KMXH"),
        (("data", "priority"), {"summary": 1}),
        (("data", "teams"), None),
        (("agent",), "PLH1HKV"),
        (("client",), ["PagerDuty"]),
        (("resource_type",), 7),
    ],
)
def test_fields_the_bot_does_not_need_never_refuse_the_event(
    path: tuple[str, ...], value: Any
) -> None:
    payload = envelope("incident.acknowledged", incident_data("acknowledged"), USER)
    parent: Any = payload["event"]
    for part in path[:-1]:
        parent = parent[part]
    if value is None:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value

    hook = parse_webhook(body(payload))

    assert hook.incident is not None and hook.incident.id == "PGR0VU2"
    assert hook.incident.status_after("incident.acknowledged") == "acknowledged"


def test_a_data_object_of_another_type_is_refused_for_an_incident_event() -> None:
    payload = envelope("incident.acknowledged", incident_data(type="incident_note"))

    with pytest.raises(WebhookPayloadError) as caught:
        parse_webhook(body(payload))

    assert "event.data.type" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"event"', "JSON object"),
        (b'{"event": null}', "event"),
        (b'{"event": {"data": []}}', "event.id"),
    ],
)
def test_malformed_bodies_raise_value_error(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_webhook(raw)


def test_routed_event_types() -> None:
    assert ROUTED_EVENT_TYPES >= {
        "incident.triggered",
        "incident.acknowledged",
        "incident.unacknowledged",
        "incident.resolved",
        "incident.reopened",
        "incident.reassigned",
        "incident.delegated",
        "incident.escalated",
        "incident.priority_updated",
        "incident.annotated",
        "incident.responder.added",
        "incident.responder.replied",
        "incident.status_update_published",
        "incident.conference_bridge.updated",
        "incident.service_updated",
    }
    for event_type in ("service.updated", "pagey.ping", "incident.workflow.started", ""):
        assert not is_routed(event_type)
    assert all(is_routed(event_type) for event_type in ROUTED_EVENT_TYPES)


def test_models_are_immutable() -> None:
    hook = parse_webhook(body(envelope("incident.triggered", incident_data())))

    with pytest.raises(ValueError):
        hook.event.event_type = "incident.resolved"
    assert isinstance(hook, PagerDutyWebhook)

"""Parsing Alertmanager's webhook payload, including ones captured from Alertmanager 0.25."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.alertmanager import PayloadError, group_key_digest, parse_notification
from tests.support.payloads import example, notification, resolved

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_a_payload_captured_from_alertmanager_0_25_parses() -> None:
    body = (FIXTURES / "alertmanager-0.25-firing.json").read_bytes()
    parsed = parse_notification(body)
    assert parsed.version == "4"
    assert parsed.status == "firing"
    assert len(parsed.alerts) == 2
    first = parsed.alerts[0]
    assert first.name == "PostgresConnectionsSaturated"
    assert first.ends_at is None  # Alertmanager's zero time means "not ended"
    assert first.fingerprint and first.key == first.fingerprint
    assert parsed.group_labels == {
        "alertname": "PostgresConnectionsSaturated",
        "service": "postgresql",
    }


def test_the_captured_resolution_carries_end_times() -> None:
    parsed = parse_notification((FIXTURES / "alertmanager-0.25-resolved.json").read_bytes())
    assert parsed.status == "resolved"
    assert all(a.ends_at is not None and a.ends_at > a.starts_at for a in parsed.alerts)


def test_unknown_keys_from_newer_alertmanagers_are_ignored() -> None:
    payload = example("high-latency-firing")
    payload["someFutureField"] = {"x": 1}
    payload["alerts"][0]["silencedBy"] = ["abc"]
    assert parse_notification(json.dumps(payload)).alerts[0].name == "HighLatency"


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda p: p.update(status="exploded"), "status"),
        (lambda p: p.update(alerts="many"), "alerts"),
        (lambda p: p.pop("alerts"), "alerts"),
        (lambda p: p["alerts"][0].pop("labels"), "alerts.0.labels"),
        (lambda p: p["alerts"][0].update(labels={"a": ["x"]}), "alerts.0.labels.a"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts.0.startsAt"),
        (lambda p: p["alerts"][0].update(status="pending"), "alerts.0.status"),
    ],
)
def test_what_the_bot_cannot_act_on_is_refused_naming_the_field(mutate: object, named: str) -> None:
    payload = notification()
    mutate(payload)  # type: ignore[operator]
    with pytest.raises(PayloadError) as raised:
        parse_notification(payload)
    assert str(raised.value).startswith(f"{named}:")


def test_a_refusal_names_every_problem_not_only_the_first() -> None:
    payload = notification(alerts=3)
    payload["status"] = "exploded"
    payload["alerts"][0]["startsAt"] = "yesterday"
    payload["alerts"][1].pop("labels")
    payload["alerts"][2]["status"] = "pending"
    with pytest.raises(PayloadError) as raised:
        parse_notification(payload)
    assert [p.split(":")[0] for p in raised.value.problems] == [
        "status",
        "alerts.0.startsAt",
        "alerts.1.labels",
        "alerts.2.status",
    ]
    for problem in raised.value.problems:
        assert problem in str(raised.value)


def test_what_can_be_defaulted_is_defaulted() -> None:
    received = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    payload = notification(alerts=3)
    payload.pop("groupKey")
    payload.pop("version")
    payload["alerts"][0].pop("status")  # takes the notification's status
    payload["alerts"][1]["startsAt"] = "0001-01-01T00:00:00Z"  # Go's zero time
    payload["alerts"][2].pop("startsAt")
    parsed = parse_notification(payload, received_at=received)
    assert parsed.group_key == 'chatops:{"alertname": "DiskFull"}'
    assert parsed.alerts[0].status == "firing"
    assert not parsed.alerts[0].starts_at_assumed
    for alert in parsed.alerts[1:]:
        assert alert.starts_at == received and alert.starts_at_assumed


def test_a_missing_status_is_taken_from_the_alerts_or_grafanas_state() -> None:
    payload = resolved(notification())
    payload.pop("status")
    assert parse_notification(payload).status == "resolved"
    payload = notification()
    payload.pop("status")
    payload["alerts"][0].pop("status")
    payload["state"] = "alerting"
    parsed = parse_notification(payload)
    assert parsed.status == "firing" and parsed.alerts[0].status == "firing"


def test_numbers_and_booleans_in_labels_are_read_as_text_and_nulls_dropped() -> None:
    payload = notification()
    payload["alerts"][0]["labels"].update(code=503, ratio=0.25, canary=True, gone=None)
    payload["alerts"][0]["annotations"]["details"] = {"pods": ["a", "b"]}
    alert = parse_notification(payload).alerts[0]
    assert alert.labels["code"] == "503" and alert.labels["ratio"] == "0.25"
    assert alert.labels["canary"] == "true" and "gone" not in alert.labels
    assert alert.annotations["details"] == '{"pods": ["a", "b"]}'


def test_fields_the_bot_does_not_act_on_never_refuse_a_notification() -> None:
    payload = notification()
    payload.update(
        version="5", truncatedAlerts=-3, externalURL=12, receiver=None, commonAnnotations=[]
    )
    payload["alerts"][0].update(generatorURL=["x"], fingerprint=7, endsAt="soon")
    parsed = parse_notification(payload)
    assert parsed.version == "5" and parsed.truncated_alerts == 0
    assert parsed.external_url == "12" and parsed.receiver == ""
    alert = parsed.alerts[0]
    assert alert.generator_url == "" and alert.ends_at is None
    assert alert.key == alert.key  # stable, from the labels
    assert len(alert.key) == 16


def test_group_keys_have_no_length_limit_and_are_stored_as_a_digest() -> None:
    long_key = '{}/{namespace=~"^(?:' + "|".join(f"ns-{i:03d}" for i in range(300)) + ')$"}:{}'
    assert len(long_key) > 2000
    parsed = parse_notification(notification(group_key=long_key))
    assert parsed.group_key == long_key
    assert parsed.key_digest == group_key_digest(long_key) and len(parsed.key_digest) == 64


def test_not_json_and_not_an_object_are_refused() -> None:
    with pytest.raises(PayloadError, match="not valid JSON"):
        parse_notification(b"{nope")
    with pytest.raises(PayloadError, match="JSON object"):
        parse_notification(b"[1, 2]")


def test_digest_ignores_redelivery_but_sees_state_changes() -> None:
    firing = notification(alerts=2)
    again = json.loads(json.dumps(firing))
    again["alerts"].reverse()  # order is not news
    assert parse_notification(firing).digest() == parse_notification(again).digest()
    assert parse_notification(firing).digest() != parse_notification(resolved(firing)).digest()
    refired = notification(alerts=2, starts_at="2026-01-01T13:00:00Z")
    assert parse_notification(firing).digest() != parse_notification(refired).digest()


def test_alerts_without_fingerprint_get_a_stable_key_from_labels() -> None:
    payload = notification()
    payload["alerts"][0]["fingerprint"] = ""
    a = parse_notification(payload).alerts[0]
    b = parse_notification(payload).alerts[0]
    assert a.key == b.key and len(a.key) == 16

"""Parsing Alertmanager's webhook payload, including ones captured from Alertmanager 0.25."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.alertmanager import PayloadError, parse_notification
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
        (lambda p: p.pop("groupKey"), "groupKey"),
        (lambda p: p.update(status="exploded"), "status"),
        (lambda p: p.update(version="3"), "version"),
        (lambda p: p.update(alerts="many"), "alerts"),
        (lambda p: p["alerts"][0].pop("startsAt"), "alerts.0.startsAt"),
        (lambda p: p["alerts"][0].update(labels={"a": 1}), "alerts.0.labels"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts.0.startsAt"),
    ],
)
def test_wrong_shapes_are_refused_naming_the_field(mutate: object, named: str) -> None:
    payload = notification()
    mutate(payload)  # type: ignore[operator]
    with pytest.raises(PayloadError) as raised:
        parse_notification(payload)
    assert str(raised.value).startswith(named)


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

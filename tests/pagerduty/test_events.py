"""The Events API v2 client against the PagerDuty stand-in: payloads and classification."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
import pytest

from actions.pagerduty import PermanentPagerError, TemporaryPagerError
from actions.pagerduty.events import (
    EventPayload,
    EventsClient,
    Link,
    PagerEvent,
    backoff,
    truncate_summary,
)
from actions.pagerduty.ratelimit import RateLimiter
from tests.pagerduty.conftest import FakeTime
from tests.servers.pagerduty import PagerDutyServer

ENQUEUE = "/v2/enqueue"


def _payload(summary: str = "api p95 latency above 2s") -> EventPayload:
    return EventPayload(summary=summary, source="api-prod-1", severity="critical")


def _client(session: aiohttp.ClientSession, server: PagerDutyServer) -> EventsClient:
    return EventsClient(session, server.url)


async def test_trigger_sends_the_documented_body_and_opens_an_incident(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str
) -> None:
    payload = EventPayload(
        summary="HighErrorRate on api",
        source="api-prod-1",
        severity="error",
        timestamp=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        component="api",
        group="production",
        event_class="HighErrorRate",
        custom_details={"priority": "P1", "runbook": "high-error-rate"},
    )
    event = PagerEvent.trigger(
        routing_key,
        payload,
        dedup_key="group-42",
        links=(Link("https://slack.example/archives/C1/p1", "Slack thread"),),
        client="chatops",
        client_url="https://chatops.example",
    )

    dedup_key = await _client(session, pd_server).send(event)

    assert dedup_key == "group-42"
    assert pd_server.incidents["group-42"].status == "triggered"
    assert pd_server.calls_to(ENQUEUE)[0].json == {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": "group-42",
        "payload": {
            "summary": "HighErrorRate on api",
            "source": "api-prod-1",
            "severity": "error",
            "timestamp": "2026-01-01T12:00:00+00:00",
            "component": "api",
            "group": "production",
            "class": "HighErrorRate",
            "custom_details": {"priority": "P1", "runbook": "high-error-rate"},
        },
        "links": [{"href": "https://slack.example/archives/C1/p1", "text": "Slack thread"}],
        "client": "chatops",
        "client_url": "https://chatops.example",
    }


async def test_trigger_without_dedup_key_returns_the_key_pagerduty_assigned(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str
) -> None:
    dedup_key = await _client(session, pd_server).send(PagerEvent.trigger(routing_key, _payload()))

    assert dedup_key in pd_server.incidents
    assert "dedup_key" not in pd_server.calls[0].json


async def test_trigger_acknowledge_resolve_lifecycle(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str
) -> None:
    client = _client(session, pd_server)
    key = await client.send(PagerEvent.trigger(routing_key, _payload(), dedup_key="g-1"))
    await client.send(PagerEvent.trigger(routing_key, _payload(), dedup_key="g-1"))
    assert len(pd_server.by_id) == 1, "a second trigger for an open alert deduplicates"

    assert await client.send(PagerEvent.acknowledge(routing_key, key)) == "g-1"
    assert pd_server.incidents["g-1"].status == "acknowledged"
    assert await client.send(PagerEvent.resolve(routing_key, key)) == "g-1"
    incident = pd_server.incidents["g-1"]
    assert incident.status == "resolved"
    assert incident.actions == ["trigger", "trigger", "acknowledge", "resolve"]
    assert pd_server.calls[2].json == {
        "routing_key": routing_key,
        "event_action": "acknowledge",
        "dedup_key": "g-1",
    }


async def test_long_summary_is_truncated_to_the_documented_limit(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str
) -> None:
    event = PagerEvent.trigger(routing_key, _payload("x" * 5000), dedup_key="long")

    await _client(session, pd_server).send(event)

    sent = pd_server.calls[0].json["payload"]["summary"]
    assert len(sent) == 1024
    assert sent.endswith("…")
    assert truncate_summary("short") == "short"


async def test_full_enqueue_url_is_accepted_as_the_base(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str
) -> None:
    client = EventsClient(session, pd_server.url + "/v2/enqueue/")

    await client.send(PagerEvent.trigger(routing_key, _payload(), dedup_key="k"))

    assert client.url == pd_server.url + ENQUEUE
    assert len(pd_server.calls_to(ENQUEUE)) == 1


async def test_400_is_permanent_and_carries_pagerdutys_errors(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer
) -> None:
    short_key = "too-short-routing-key"
    event = PagerEvent.trigger(short_key, _payload(), dedup_key="k")

    with pytest.raises(PermanentPagerError) as caught:
        await _client(session, pd_server).send(event)

    error = caught.value
    assert not isinstance(error, TemporaryPagerError)
    assert error.status == 400
    assert "Event object is invalid" in str(error)
    assert any("routing_key" in item for item in error.errors)
    assert short_key not in str(error)
    assert pd_server.incidents == {}


async def test_routing_key_echoed_by_pagerduty_is_scrubbed_from_errors_and_logs(
    session: aiohttp.ClientSession,
    pd_server: PagerDutyServer,
    routing_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pd_server.fail_next(
        ENQUEUE,
        400,
        body={
            "status": "invalid event",
            "message": f"Unknown routing key {routing_key}",
            "errors": [f"no integration for {routing_key}"],
        },
    )
    caplog.set_level(logging.DEBUG)

    with pytest.raises(PermanentPagerError) as caught:
        await _client(session, pd_server).send(PagerEvent.resolve(routing_key, "k"))

    assert routing_key not in str(caught.value)
    assert all(routing_key not in item for item in caught.value.errors)
    assert "[routing key]" in str(caught.value)
    assert caplog.records, "the failure is logged"
    assert all(routing_key not in record.getMessage() for record in caplog.records)


async def test_429_is_temporary_with_a_backoff_hint(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str
) -> None:
    pd_server.fail_next(ENQUEUE, 429)

    with pytest.raises(TemporaryPagerError) as caught:
        await _client(session, pd_server).send(PagerEvent.resolve(routing_key, "k"))

    assert caught.value.status == 429
    assert caught.value.retry_after == 30.0
    assert len(pd_server.calls_to(ENQUEUE)) == 1, "exactly one HTTP attempt"


async def test_429_honours_a_retry_after_header_and_a_custom_hint(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str
) -> None:
    client = EventsClient(session, pd_server.url, rate_limited_retry_after=90.0)
    pd_server.fail_next(ENQUEUE, 429, headers={"Retry-After": "7"})
    pd_server.fail_next(ENQUEUE, 429)

    with pytest.raises(TemporaryPagerError) as first:
        await client.send(PagerEvent.resolve(routing_key, "k"))
    with pytest.raises(TemporaryPagerError) as second:
        await client.send(PagerEvent.resolve(routing_key, "k"))

    assert first.value.retry_after == 7.0
    assert second.value.retry_after == 90.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_temporary(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str, status: int
) -> None:
    pd_server.fail_next(ENQUEUE, status)

    with pytest.raises(TemporaryPagerError) as caught:
        await _client(session, pd_server).send(PagerEvent.trigger(routing_key, _payload()))

    assert caught.value.status == status
    assert caught.value.retry_after is None
    assert len(pd_server.calls_to(ENQUEUE)) == 1
    assert pd_server.incidents == {}


async def test_server_recovers_after_injected_failures(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str
) -> None:
    client = _client(session, pd_server)
    pd_server.fail_next(ENQUEUE, 500, times=2)
    event = PagerEvent.trigger(routing_key, _payload(), dedup_key="retry-me")

    for _ in range(2):
        with pytest.raises(TemporaryPagerError):
            await client.send(event)
    assert await client.send(event) == "retry-me"
    assert len(pd_server.calls_to(ENQUEUE)) == 3


async def test_connection_refused_is_temporary(
    session: aiohttp.ClientSession, routing_key: str
) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = EventsClient(session, f"http://127.0.0.1:{port}")

    with pytest.raises(TemporaryPagerError) as caught:
        await client.send(PagerEvent.resolve(routing_key, "k"))

    assert caught.value.status is None
    assert routing_key not in str(caught.value)


async def test_timeout_is_temporary(
    session: aiohttp.ClientSession, pd_server: PagerDutyServer, routing_key: str
) -> None:
    pd_server.hang_next(ENQUEUE)
    client = EventsClient(session, pd_server.url, timeout=aiohttp.ClientTimeout(total=0.01))

    with pytest.raises(TemporaryPagerError, match="timed out"):
        await client.send(PagerEvent.resolve(routing_key, "k"))


async def test_limiter_paces_the_121st_event_by_a_minute(
    session: aiohttp.ClientSession,
    pd_server: PagerDutyServer,
    routing_key: str,
    fake_time: FakeTime,
) -> None:
    limiter = RateLimiter(clock=fake_time, sleep=fake_time.sleep)
    client = EventsClient(session, pd_server.url, limiter=limiter)

    for n in range(121):
        await client.send(PagerEvent.trigger(routing_key, _payload(), dedup_key=f"k{n}"))

    assert fake_time.sleeps == [60.0]
    assert len(pd_server.calls_to(ENQUEUE)) == 121


def test_event_repr_never_shows_the_routing_key(routing_key: str) -> None:
    event = PagerEvent.trigger(routing_key, _payload(), dedup_key="k")

    assert routing_key not in repr(event)
    assert routing_key not in str(event)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda key: PagerEvent(key, "acknowledge"), "dedup_key"),
        (lambda key: PagerEvent(key, "resolve"), "dedup_key"),
        (lambda key: PagerEvent(key, "trigger"), "payload"),
        (lambda key: PagerEvent(key, "snooze", "k"), "event_action"),  # type: ignore[arg-type]
        (lambda key: PagerEvent("", "resolve", "k"), "routing_key"),
        (lambda key: PagerEvent.resolve(key, "k" * 256), "dedup_key"),
        (lambda key: EventPayload("s", "src", "fatal"), "severity"),  # type: ignore[arg-type]
        (lambda key: EventPayload(" ", "src", "info"), "summary"),
        (lambda key: EventPayload("s", "", "info"), "source"),
        (lambda key: EventPayload("s", "src", "info", timestamp=datetime(2026, 1, 1)), "aware"),
    ],
)
def test_events_pagerduty_would_reject_are_refused_locally(
    routing_key: str, build: Callable[[str], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build(routing_key)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    middle = lambda: 0.5  # noqa: E731 - no jitter at the midpoint
    assert [backoff(n, rand=middle) for n in range(1, 8)] == [5, 10, 20, 40, 80, 160, 300]
    assert backoff(10_000, rand=middle) == 300.0, "no overflow for huge attempts"
    assert backoff(1, rand=lambda: 0.0) == pytest.approx(4.0)  # -20%
    assert backoff(1, rand=lambda: 0.999999) == pytest.approx(6.0, rel=1e-5)  # +20%
    assert backoff(20, rand=lambda: 0.999999) == 300.0, "jitter never exceeds the cap"
    assert backoff(3, base=1, factor=3, cap=100, jitter=0, rand=lambda: 0.9) == 9.0


@pytest.mark.parametrize(("attempt", "jitter"), [(0, 0.1), (-1, 0.1), (1, 1.0), (1, -0.1)])
def test_backoff_rejects_nonsense(attempt: int, jitter: float) -> None:
    with pytest.raises(ValueError):
        backoff(attempt, jitter=jitter)

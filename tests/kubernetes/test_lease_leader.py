"""The timers' leader through a coordination.k8s.io/v1 Lease, against the API test server.

Time is a FakeClock shared by the contenders; nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio.client import ApiClient

from actions.kube.client import api_client_for_host
from actions.kube.lease import micro_time
from bot.clock import FakeClock
from bot.config import BUNDLED_EXAMPLE, ConfigError, load_config, parse_config
from bot.replicas.leadership import KubernetesLeaseConfig, LeaderConfig
from bot.replicas.lease import KubernetesLeaseLeader
from bot.replicas.timer_leader import TimerLeader
from tests.conftest import StartService
from tests.servers.kube_api import LEASES, KubeApiServer

LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/chatops/leases/chatops-timers"
LEASES_PATH = "/apis/coordination.k8s.io/v1/namespaces/chatops/leases"

Make = Callable[..., KubernetesLeaseLeader]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make(kube: KubeApiServer, clock: FakeClock) -> AsyncIterator[Make]:
    made: list[KubernetesLeaseLeader] = []

    async def client() -> ApiClient:
        return await api_client_for_host(kube.url)

    def build(identity: str, **overrides: Any) -> KubernetesLeaseLeader:
        config = KubernetesLeaseConfig(
            namespace="chatops", name="chatops-timers", identity=identity, **overrides
        )
        leader = KubernetesLeaseLeader(config, clock, api=client)
        made.append(leader)
        return leader

    yield build
    for leader in made:
        await leader.release()


def spec(kube: KubeApiServer) -> dict[str, Any]:
    lease = kube.get(LEASES, "chatops", "chatops-timers")
    result: dict[str, Any] = lease["spec"]
    return result


async def test_the_first_contender_creates_the_lease_and_leads(
    kube: KubeApiServer, make: Make, clock: FakeClock
) -> None:
    a = make("bot-a")

    assert await a.try_acquire() is True
    assert a.is_leader
    assert spec(kube) == {
        "holderIdentity": "bot-a",
        "leaseDurationSeconds": 15,
        "acquireTime": micro_time(clock.now()),
        "renewTime": micro_time(clock.now()),
        "leaseTransitions": 0,
    }
    assert [r.status for r in kube.requests_for("POST", LEASES_PATH)] == [201]


async def test_a_second_contender_waits_while_the_lease_is_renewed(
    kube: KubeApiServer, make: Make, clock: FakeClock
) -> None:
    a, b = make("bot-a"), make("bot-b")
    assert await a.try_acquire() is True
    assert await b.try_acquire() is False

    for _ in range(10):  # 30s, twice the lease duration, with a renewing every 3s
        clock.advance(3)
        assert await a.try_acquire() is True
        assert await b.try_acquire() is False

    assert spec(kube)["holderIdentity"] == "bot-a"
    assert spec(kube)["renewTime"] == micro_time(clock.now())
    assert spec(kube)["acquireTime"] == micro_time(clock.now() - timedelta(seconds=30))
    assert not b.is_leader


async def test_the_holder_renews_at_most_every_retry_period(
    kube: KubeApiServer, make: Make, clock: FakeClock
) -> None:
    a = make("bot-a")
    assert await a.try_acquire() is True
    clock.advance(1)  # retry_period is 2s
    assert await a.try_acquire() is True
    assert kube.requests_for("PUT", LEASE_PATH) == []
    clock.advance(1)
    assert await a.try_acquire() is True
    assert [r.status for r in kube.requests_for("PUT", LEASE_PATH)] == [200]


async def test_a_released_lease_is_taken_over_at_once(
    kube: KubeApiServer, make: Make, clock: FakeClock
) -> None:
    a, b = make("bot-a"), make("bot-b")
    assert await a.try_acquire() is True
    assert await b.try_acquire() is False

    await a.release()
    assert not a.is_leader
    assert spec(kube)["holderIdentity"] == ""
    clock.advance(1)
    assert await b.try_acquire() is True
    assert spec(kube)["holderIdentity"] == "bot-b"
    assert spec(kube)["leaseTransitions"] == 1
    assert spec(kube)["acquireTime"] == micro_time(clock.now())


async def test_a_dead_holders_lease_is_taken_over_once_it_expires(
    kube: KubeApiServer, make: Make, clock: FakeClock
) -> None:
    a, b = make("bot-a"), make("bot-b")
    assert await a.try_acquire() is True
    assert await b.try_acquire() is False  # b first sees a's record now

    # a dies without releasing: its record stops changing.
    clock.advance(14)
    assert await b.try_acquire() is False
    clock.advance(1)  # 15s since b saw the record change
    assert await b.try_acquire() is True
    assert spec(kube)["holderIdentity"] == "bot-b"
    assert spec(kube)["leaseTransitions"] == 1

    # a comes back (a paused process): its next renewal finds the lease gone.
    clock.advance(3)
    assert await a.try_acquire() is False
    assert not a.is_leader
    assert spec(kube)["holderIdentity"] == "bot-b"


async def test_expiry_is_measured_on_the_standbys_clock_not_the_holders_renew_time(
    kube: KubeApiServer, make: Make, clock: FakeClock
) -> None:
    # A holder whose clock runs an hour behind wrote an old-looking renewTime; a standby
    # that has only just seen it must still wait a full lease duration.
    kube.add_lease(
        "chatops",
        "chatops-timers",
        {
            "holderIdentity": "skewed",
            "leaseDurationSeconds": 15,
            "acquireTime": micro_time(clock.now() - timedelta(hours=1)),
            "renewTime": micro_time(clock.now() - timedelta(hours=1)),
            "leaseTransitions": 4,
        },
    )
    b = make("bot-b")
    assert await b.try_acquire() is False
    clock.advance(15)
    assert await b.try_acquire() is True
    assert spec(kube)["leaseTransitions"] == 5


async def test_two_contenders_on_the_same_resource_version_exactly_one_wins(
    kube: KubeApiServer, make: Make, clock: FakeClock
) -> None:
    a, b = make("bot-a"), make("bot-b")
    kube.add_lease("chatops", "chatops-timers", {"holderIdentity": "", "leaseTransitions": 2})
    kube.barrier("GET", LEASE_PATH, 2)  # both read the lease before either writes

    results = await asyncio.gather(a.try_acquire(), b.try_acquire())

    assert sorted(results) == [False, True]
    winner = "bot-a" if results[0] else "bot-b"
    gets = kube.requests_for("GET", LEASE_PATH)
    assert gets[0].status == gets[1].status == 200
    puts = kube.requests_for("PUT", LEASE_PATH)
    assert sorted(r.status for r in puts) == [200, 409]
    assert (
        puts[0].body["metadata"]["resourceVersion"] == puts[1].body["metadata"]["resourceVersion"]
    )
    assert spec(kube)["holderIdentity"] == winner
    assert spec(kube)["leaseTransitions"] == 3
    loser = b if results[0] else a
    assert not loser.is_leader
    clock.advance(3)
    assert await loser.try_acquire() is False  # the winner's record is fresh to it


async def test_two_contenders_creating_the_lease_exactly_one_wins(
    kube: KubeApiServer, make: Make
) -> None:
    a, b = make("bot-a"), make("bot-b")
    kube.barrier("GET", LEASE_PATH, 2)  # both see 404, both POST

    results = await asyncio.gather(a.try_acquire(), b.try_acquire())

    assert sorted(results) == [False, True]
    posts = kube.requests_for("POST", LEASES_PATH)
    assert sorted(r.status for r in posts) == [201, 409]


async def test_a_holder_keeps_leading_through_failed_renewals_until_the_renew_deadline(
    kube: KubeApiServer, make: Make, clock: FakeClock
) -> None:
    a = make("bot-a")
    assert await a.try_acquire() is True
    kube.inject_error("GET", LEASE_PATH, 503, times=10)

    clock.advance(9)
    assert await a.try_acquire() is True  # 9s < renew_deadline 10s
    clock.advance(1)
    assert await a.try_acquire() is False  # 10s without a renewal: stop before expiry
    assert not a.is_leader


async def test_a_standby_that_cannot_reach_the_api_does_not_lead(
    kube: KubeApiServer, make: Make
) -> None:
    kube.inject_error("GET", LEASE_PATH, 500)
    b = make("bot-b")
    assert await b.try_acquire() is False
    assert await b.try_acquire() is True  # the API answers again; no lease yet: create


async def test_release_leaves_someone_elses_lease_alone(
    kube: KubeApiServer, make: Make, clock: FakeClock
) -> None:
    a, b = make("bot-a"), make("bot-b")
    assert await a.try_acquire() is True
    assert await b.try_acquire() is False
    await b.release()
    assert spec(kube)["holderIdentity"] == "bot-a"
    assert kube.requests_for("PUT", LEASE_PATH) == []


# --- the API test server's Lease endpoints ----------------------------------------------


async def send(kube: KubeApiServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(base_url=kube.url) as http,
        http.request(method, path, json=body) as response,
    ):
        return response.status, await response.json()


async def test_the_server_creates_leases_and_refuses_a_second_create(kube: KubeApiServer) -> None:
    lease = {"metadata": {"name": "chatops-timers"}, "spec": {"holderIdentity": "x"}}
    status, created = await send(kube, "POST", LEASES_PATH, lease)
    assert status == 201
    assert created["kind"] == "Lease" and created["apiVersion"] == "coordination.k8s.io/v1"
    assert created["metadata"]["namespace"] == "chatops"
    assert created["metadata"]["resourceVersion"]
    assert "status" not in created

    status, body = await send(kube, "POST", LEASES_PATH, lease)
    assert status == 409
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'leases.coordination.k8s.io "chatops-timers" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "chatops-timers", "group": "coordination.k8s.io", "kind": "leases"},
        "code": 409,
    }


async def test_the_server_refuses_a_stale_lease_update(kube: KubeApiServer) -> None:
    created = kube.add_lease("chatops", "chatops-timers", {"holderIdentity": "x"})
    first = {**created, "spec": {"holderIdentity": "y"}}
    status, updated = await send(kube, "PUT", LEASE_PATH, first)
    assert status == 200
    assert updated["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]

    status, body = await send(kube, "PUT", LEASE_PATH, {**created, "spec": {"holderIdentity": "z"}})
    assert status == 409
    assert body["reason"] == "Conflict"
    assert body["message"].startswith(
        'Operation cannot be fulfilled on leases.coordination.k8s.io "chatops-timers"'
    )
    assert spec(kube)["holderIdentity"] == "y"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("renewTime", "2026-01-01T12:00:00+00:00", 400),  # no microseconds: not a MicroTime
        ("leaseDurationSeconds", 0, 422),
        ("leaseTransitions", -1, 422),
    ],
)
async def test_the_server_validates_lease_specs(
    kube: KubeApiServer, field: str, value: Any, code: int
) -> None:
    lease = {"metadata": {"name": "chatops-timers"}, "spec": {field: value}}
    status, body = await send(kube, "POST", LEASES_PATH, lease)
    assert status == code
    assert body["kind"] == "Status"


async def test_the_server_answers_404_for_a_missing_lease(kube: KubeApiServer) -> None:
    status, body = await send(kube, "GET", LEASE_PATH)
    assert status == 404
    assert body["message"] == 'leases.coordination.k8s.io "chatops-timers" not found'


# --- config ---------------------------------------------------------------------------------

BASE = BUNDLED_EXAMPLE.read_text(encoding="utf-8").rstrip("\n") + "\n"
LEADER_LINE = BASE.count("\n") + 1


def leader_section(text: str) -> LeaderConfig:
    return parse_config(BASE + text).leader


def test_the_leader_section_defaults_to_the_postgres_lock() -> None:
    assert parse_config(BASE).leader == LeaderConfig()
    assert parse_config(BASE).leader.backend == "postgres"


def test_a_kubernetes_leader_section_parses_durations() -> None:
    leader = leader_section(
        "leader:\n"
        "  backend: kubernetes\n"
        "  kubernetes: {namespace: chatops, name: chatops-timers, lease_duration: 30s,\n"
        "               renew_deadline: 20s, retry_period: 5s}\n"
    )
    assert leader.kubernetes is not None
    assert leader.kubernetes.lease_duration == timedelta(seconds=30)
    assert leader.kubernetes.renew_deadline == timedelta(seconds=20)
    assert leader.kubernetes.retry_period == timedelta(seconds=5)
    assert leader.kubernetes.identity is None


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("leader: {backend: kubernetes}", "leader: backend kubernetes needs a `kubernetes`"),
        ("leader: {backend: etcd}", "leader.backend: Input should be 'postgres' or 'kubernetes'"),
        ("leader: {kubernetes: {namespace: a, name: b, ttl: 5s}}", "leader.kubernetes.ttl"),
        ("leader: {kubernetes: {namespace: Bad_NS, name: b}}", "leader.kubernetes.namespace"),
        ("leader: {kubernetes: {namespace: a, name: b, identity: ''}}", "identity must not"),
        (
            "leader: {kubernetes: {namespace: a, name: b, renew_deadline: 15s}}",
            "renew_deadline must be shorter than lease_duration",
        ),
        (
            "leader: {kubernetes: {namespace: a, name: b, retry_period: 10s}}",
            "renew_deadline must be longer than retry_period",
        ),
        (
            "leader: {kubernetes: {namespace: a, name: b, lease_duration: 1500ms}}",
            "lease_duration must be a whole number of seconds",
        ),
        ("leader: {kubernetes: {namespace: a}}", "leader.kubernetes.name: Field required"),
    ],
)
def test_the_leader_section_names_its_problems(section: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + section + "\n")
    assert any(problem in p for p in caught.value.problems), caught.value.problems
    assert all(p.startswith(f"line {LEADER_LINE}: ") for p in caught.value.problems)


# --- wiring -------------------------------------------------------------------------------


async def test_the_escalation_feature_uses_the_lease_when_configured(
    kube: KubeApiServer, start_service: StartService, sqlite_url: str, clock: FakeClock
) -> None:
    example = load_config(BUNDLED_EXAMPLE)
    lease = KubernetesLeaseConfig(
        namespace="chatops", name="chatops-timers", identity="bot-a", host=kube.url
    )
    config = example.model_copy(
        update={"leader": LeaderConfig(backend="kubernetes", kubernetes=lease)}
    )
    running = await start_service(sqlite_url, config=config, clock=clock)
    leader = running.service.escalation.leader
    assert isinstance(leader, KubernetesLeaseLeader)
    assert leader.identity == "bot-a"

    assert await leader.try_acquire() is True
    assert spec(kube)["holderIdentity"] == "bot-a"
    await running.stop()  # stopping the escalation releases the lease
    assert spec(kube)["holderIdentity"] == ""


async def test_the_escalation_feature_keeps_the_advisory_lock_by_default(
    start_service: StartService, sqlite_url: str
) -> None:
    running = await start_service(sqlite_url)
    assert isinstance(running.service.escalation.leader, TimerLeader)


async def test_a_renewal_that_fails_late_counts_the_time_it_took(
    kube: KubeApiServer, make: Make, clock: FakeClock
) -> None:
    a = make("bot-a")
    assert await a.try_acquire() is True
    clock.advance(3)
    kube.inject_error("GET", LEASE_PATH, 504)
    kube.after_next("GET", LEASE_PATH, lambda: clock.advance(8))  # a slow, failed call
    assert await a.try_acquire() is False  # 11s since the last renewal by the time it failed
    assert not a.is_leader

"""Which process runs the timers, decided by a coordination.k8s.io/v1 Lease.

The protocol is client-go's leader election, driven by the escalation loop's calls to
`try_acquire()` instead of a loop of its own:

- a missing Lease is created with this replica as holder (201 wins, 409 AlreadyExists
  means another replica created it first);
- a Lease held by someone else is taken over only when its record has not changed for
  `leaseDurationSeconds`, measured on this replica's clock from when it first saw that
  record (so clock skew between replicas does not matter), or at once when it has no
  holder (released);
- every write is a PUT carrying the resourceVersion that was read, so of two replicas
  racing on the same version the API server lets exactly one through; the other gets
  409 Conflict and stays a standby;
- the holder renews (renewTime) at most every `retry_period`; when renewals fail it keeps
  leading for `renew_deadline` after its last successful one, which is shorter than the
  lease duration, so it stops before a standby can take over;
- `release()` clears holderIdentity so a standby takes over without waiting.

kubernetes_asyncio.leaderelection (36.x) is not used: its `LeaderElection.run()` owns
the loop (sleeping with asyncio.sleep and time.time(), so neither an injected clock nor a
single "am I leading now?" call fits), it never releases the lease on shutdown, never
counts leaseTransitions, and writes renewTime through a naive local-time string.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

import aiohttp
from kubernetes_asyncio.client import ApiClient, CoordinationV1Api, V1Lease
from kubernetes_asyncio.client.rest import ApiException
from sqlalchemy.ext.asyncio import AsyncEngine

from actions.kube.client import KubeApiError, build_api_client
from bot.clock import Clock
from bot.replicas.leadership import KubernetesLeaseConfig, LeaderConfig
from bot.replicas.timer_leader import TimerLeader

log = logging.getLogger(__name__)


class Leader(Protocol):
    """What the escalation feature needs from its lock."""

    is_leader: bool

    @property
    def uses_lock(self) -> bool: ...

    async def try_acquire(self) -> bool: ...

    async def release(self) -> None: ...


def build_leader(config: LeaderConfig, engine: AsyncEngine, clock: Clock) -> Leader:
    """The lock the `leader` section asks for (default: the PostgreSQL advisory lock)."""
    if config.backend == "kubernetes" and config.kubernetes is not None:
        return KubernetesLeaseLeader(config.kubernetes, clock)
    return TimerLeader(engine)


def default_identity() -> str:
    """The pod's name (the host name in a pod) and a random suffix, as client-go does."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def micro_time(moment: datetime) -> str:
    """A metav1.MicroTime: RFC 3339 with exactly six fractional digits, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KubernetesLeaseLeader:
    def __init__(
        self,
        config: KubernetesLeaseConfig,
        clock: Clock,
        *,
        api: Callable[[], Awaitable[ApiClient]] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._make_api = api or self._default_api
        self._api: ApiClient | None = None
        self.identity = config.identity or default_identity()
        self.is_leader = False
        self._renewed_at: datetime | None = None
        # The holder's record as last seen, and when (on our clock) it was first seen.
        self._observed: tuple[Any, ...] | None = None
        self._observed_at: datetime | None = None

    @property
    def uses_lock(self) -> bool:
        return True

    async def _default_api(self) -> ApiClient:
        return await build_api_client(
            host=self._config.host, kubeconfig=self._config.kubeconfig, context=self._config.context
        )

    async def _leases(self) -> CoordinationV1Api:
        if self._api is None:
            self._api = await self._make_api()
        return CoordinationV1Api(api_client=self._api)

    async def try_acquire(self) -> bool:
        """Take, renew or check the Lease; True while this process leads."""
        now = self._clock.now()
        if (
            self.is_leader
            and self._renewed_at is not None
            and now - self._renewed_at < self._config.retry_period
        ):
            return True
        try:
            won = await self._acquire_or_renew(now)
        except (ApiException, aiohttp.ClientError, TimeoutError, KubeApiError) as exc:
            log.warning("could not reach the timer Lease: %s", _describe(exc))
            now = self._clock.now()  # the failed call may have taken a while
            if (
                self.is_leader
                and self._renewed_at is not None
                and now - self._renewed_at < self._config.renew_deadline
            ):
                return True  # renewals may fail for a while; the lease is still ours
            won = False
        if won:
            if not self.is_leader:
                log.info("this process now runs the escalation timers (Lease %s)", self._where)
            self.is_leader = True
            self._renewed_at = now
        elif self.is_leader:
            log.warning("lost the timer Lease %s; another replica may take over", self._where)
            self.is_leader = False
            self._renewed_at = None
        return won

    async def release(self) -> None:
        """Give the Lease up (holderIdentity cleared) if this process holds it."""
        try:
            if self.is_leader and self._api is not None:
                await self._give_up()
        except (ApiException, aiohttp.ClientError, TimeoutError, KubeApiError) as exc:
            log.warning("could not release the timer Lease; it expires on its own: %s",
                        _describe(exc))  # fmt: skip
        finally:
            self.is_leader = False
            self._renewed_at = None
            api, self._api = self._api, None
            if api is not None:
                await api.close()

    @property
    def _timeout(self) -> float:
        """No call may outlast the renew deadline: a hung request must not keep the
        holder believing it leads."""
        return self._config.renew_deadline.total_seconds()

    @property
    def _where(self) -> str:
        return f"{self._config.namespace}/{self._config.name}"

    @property
    def _duration(self) -> int:
        return int(self._config.lease_duration.total_seconds())

    async def _acquire_or_renew(self, now: datetime) -> bool:
        leases = await self._leases()
        try:
            lease: V1Lease = await leases.read_namespaced_lease(
                self._config.name, self._config.namespace, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            return await self._create(leases, now)
        if self._held_elsewhere(lease, now):
            return False
        return await self._take(leases, lease, now)

    async def _create(self, leases: CoordinationV1Api, now: datetime) -> bool:
        """The missing Lease, with this replica as holder (409: another created it first)."""
        name, namespace = self._config.name, self._config.namespace
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self._duration,
                "acquireTime": micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": 0,
            },
        }
        return await self._write(
            leases.create_namespaced_lease(
                namespace, _as_lease(body), _request_timeout=self._timeout
            )
        )

    def _held_elsewhere(self, lease: V1Lease, now: datetime) -> bool:
        """Whether another replica holds the Lease and has not let it expire: its record
        changed less than a lease duration ago (on our clock, from when we first saw it)."""
        spec = lease.spec
        holder = (spec.holder_identity if spec else None) or ""
        record = (
            holder,
            spec.renew_time if spec else None,
            spec.acquire_time if spec else None,
            spec.lease_duration_seconds if spec else None,
            spec.lease_transitions if spec else None,
        )
        if record != self._observed or self._observed_at is None:
            self._observed, self._observed_at = record, now
        if not holder or holder == self.identity:
            return False
        held_for = (spec.lease_duration_seconds if spec else None) or self._duration
        if now < self._observed_at + timedelta(seconds=held_for):
            return True
        log.info("the timer Lease %s held by %s has expired", self._where, holder)
        return False

    async def _take(self, leases: CoordinationV1Api, lease: V1Lease, now: datetime) -> bool:
        """Renew our Lease, or take over a released or expired one (a new transition)."""
        spec = lease.spec
        holder = (spec.holder_identity if spec else None) or ""
        update = self._body(lease)
        transitions = (spec.lease_transitions if spec else None) or 0
        if holder == self.identity and spec is not None and spec.acquire_time is not None:
            acquired = micro_time(spec.acquire_time)
        else:
            acquired, transitions = micro_time(now), transitions + 1
        update["spec"] |= {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self._duration,
            "acquireTime": acquired,
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        }
        return await self._write(
            leases.replace_namespaced_lease(
                self._config.name,
                self._config.namespace,
                _as_lease(update),
                _request_timeout=self._timeout,
            )
        )

    async def _give_up(self) -> None:
        leases = await self._leases()
        name, namespace = self._config.name, self._config.namespace
        lease: V1Lease = await leases.read_namespaced_lease(
            name, namespace, _request_timeout=self._timeout
        )
        if lease.spec is None or lease.spec.holder_identity != self.identity:
            return
        now = micro_time(self._clock.now())
        body = self._body(lease)
        # As client-go releases: no holder, a 1s duration, the transition count kept.
        body["spec"] |= {
            "holderIdentity": "",
            "leaseDurationSeconds": 1,
            "acquireTime": now,
            "renewTime": now,
        }
        await leases.replace_namespaced_lease(
            name, namespace, _as_lease(body), _request_timeout=self._timeout
        )
        log.info("released the timer Lease %s", self._where)

    def _body(self, lease: V1Lease) -> dict[str, Any]:
        """The Lease as read, for a PUT: its resourceVersion is the precondition."""
        assert self._api is not None
        body: dict[str, Any] = self._api.sanitize_for_serialization(lease)
        # Let the server keep its field ownership; re-sent timestamps would only differ
        # in formatting.
        body.setdefault("metadata", {}).pop("managedFields", None)
        body["spec"] = {
            key: value
            for key, value in (body.get("spec") or {}).items()
            if key not in ("acquireTime", "renewTime")
        }
        return body

    async def _write(self, request: Awaitable[object]) -> bool:
        """A create or replace: True when it went through, False when another won (409)."""
        try:
            await request
        except ApiException as exc:
            if exc.status in (404, 409):  # created, changed or deleted by someone else
                self._observed = self._observed_at = None
                return False
            raise
        return True


def _as_lease(body: dict[str, Any]) -> V1Lease:
    # The client serializes a dict as it is, so the times keep the exact MicroTime format
    # (a V1Lease's datetimes would lose ".000000" on a whole second, which the API server
    # refuses to parse).
    return cast(V1Lease, body)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    return str(exc) or type(exc).__name__

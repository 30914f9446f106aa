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

The API calls themselves are actions/kube/lease.py's; this module decides.

kubernetes_asyncio.leaderelection (36.x) is not used: its `LeaderElection.run()` owns
the loop (sleeping with asyncio.sleep and time.time(), so neither an injected clock nor a
single "am I leading now?" call fits), it never releases the lease on shutdown, never
counts leaseTransitions, and writes renewTime through a naive local-time string.
"""

from __future__ import annotations

import logging
import socket
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from actions.kube.client import ApiClientFactory, KubeApiError, build_api_client
from actions.kube.lease import LeaseRecord, Leases, ReadLease
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


class KubernetesLeaseLeader:
    def __init__(
        self,
        config: KubernetesLeaseConfig,
        clock: Clock,
        *,
        api: ApiClientFactory | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        default_api = partial(
            build_api_client, host=config.host, kubeconfig=config.kubeconfig, context=config.context
        )
        # No call may outlast the renew deadline: a hung request must not keep the holder
        # believing it leads.
        self._leases = Leases(
            api or default_api,
            config.namespace,
            config.name,
            timeout=config.renew_deadline.total_seconds(),
        )
        self.identity = config.identity or default_identity()
        self.is_leader = False
        self._renewed_at: datetime | None = None
        # The holder's record as last seen, and when (on our clock) it was first seen.
        self._observed: LeaseRecord | None = None
        self._observed_at: datetime | None = None

    @property
    def uses_lock(self) -> bool:
        return True

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
        except KubeApiError as exc:
            log.warning("could not reach the timer Lease: %s", exc)
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
            if self.is_leader and self._leases.connected:
                await self._give_up()
        except KubeApiError as exc:
            log.warning("could not release the timer Lease; it expires on its own: %s", exc)
        finally:
            self.is_leader = False
            self._renewed_at = None
            await self._leases.close()

    @property
    def _where(self) -> str:
        return f"{self._config.namespace}/{self._config.name}"

    @property
    def _duration(self) -> int:
        return int(self._config.lease_duration.total_seconds())

    async def _acquire_or_renew(self, now: datetime) -> bool:
        lease = await self._leases.read()
        if lease is None:
            # The missing Lease, with this replica as holder.
            record = LeaseRecord(self.identity, self._duration, now, now, transitions=0)
            return self._wrote(await self._leases.create(record))
        if self._held_elsewhere(lease.record, now):
            return False
        return self._wrote(await self._take(lease, now))

    def _wrote(self, went_through: bool) -> bool:
        if not went_through:
            # Another replica created, changed or deleted the Lease: what we saw is stale.
            self._observed = self._observed_at = None
        return went_through

    def _held_elsewhere(self, record: LeaseRecord, now: datetime) -> bool:
        """Whether another replica holds the Lease and has not let it expire: its record
        changed less than a lease duration ago (on our clock, from when we first saw it)."""
        if record != self._observed or self._observed_at is None:
            self._observed, self._observed_at = record, now
        if not record.holder or record.holder == self.identity:
            return False
        held_for = record.duration_seconds or self._duration
        if now < self._observed_at + timedelta(seconds=held_for):
            return True
        log.info("the timer Lease %s held by %s has expired", self._where, record.holder)
        return False

    async def _take(self, lease: ReadLease, now: datetime) -> bool:
        """Renew our Lease, or take over a released or expired one (a new transition)."""
        read = lease.record
        transitions = read.transitions or 0
        if read.holder == self.identity and read.acquire_time is not None:
            acquired = read.acquire_time
        else:
            acquired, transitions = now, transitions + 1
        record = LeaseRecord(self.identity, self._duration, acquired, now, transitions)
        return await self._leases.replace(lease, record)

    async def _give_up(self) -> None:
        lease = await self._leases.read()
        if lease is None or lease.record.holder != self.identity:
            return
        now = self._clock.now()
        # As client-go releases: no holder, a 1s duration, the transition count kept.
        record = LeaseRecord("", 1, now, now, lease.record.transitions)
        if await self._leases.replace(lease, record):
            log.info("released the timer Lease %s", self._where)
        else:
            log.warning("could not release the timer Lease %s: it changed meanwhile", self._where)

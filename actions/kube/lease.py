"""One coordination.k8s.io/v1 Lease: read it, create it, replace it.

The leadership decisions (who holds the Lease, when it has expired, when to renew) are
bot/replicas/lease.py's; this module only talks to the API server, in plain data both
ways so that the decisions never see a client-library type.

Every replace is a PUT of the Lease as it was read, so the resourceVersion read is the
precondition: of two writers racing on the same version the API server lets exactly one
through and answers 409 Conflict to the other, which `create` and `replace` report as
False. Every other failure is a KubeApiError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from kubernetes_asyncio.client import ApiClient, CoordinationV1Api, V1Lease

from actions.kube.client import ApiClientFactory, KubeApiError, call


def micro_time(moment: datetime) -> str:
    """A metav1.MicroTime: RFC 3339 with exactly six fractional digits, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaseRecord:
    """The Lease's spec: who holds it, since when, and how long a silence means it expired.
    Two reads with equal records mean the holder did not renew in between."""

    holder: str
    duration_seconds: int | None = None
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    transitions: int | None = None


@dataclass(frozen=True)
class ReadLease:
    """A Lease as read: its record, and the object to send back when replacing it."""

    record: LeaseRecord
    # The object as read (resourceVersion included), without the fields a PUT rewrites.
    body: dict[str, Any] = field(repr=False, compare=False)


class Leases:
    """One namespaced Lease, over an ApiClient built on first use.

    `timeout` bounds every request: the client library waits forever by default.
    """

    def __init__(
        self, make_api: ApiClientFactory, namespace: str, name: str, *, timeout: float
    ) -> None:
        self._make_api = make_api
        self._api: ApiClient | None = None
        self.namespace, self.name = namespace, name
        self._timeout = timeout

    @property
    def connected(self) -> bool:
        """Whether a client was built (nothing was asked of the API server otherwise)."""
        return self._api is not None

    async def read(self) -> ReadLease | None:
        """The Lease, or None when there is none."""
        leases = await self._leases()
        try:
            lease: V1Lease = await call(
                f"reading Lease {self._where}",
                leases.read_namespaced_lease(
                    self.name, self.namespace, _request_timeout=self._timeout
                ),
            )
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise
        return ReadLease(_record(lease), self._body(lease))

    async def create(self, record: LeaseRecord) -> bool:
        """Create the Lease with `record`; False when another writer created it first."""
        leases = await self._leases()
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": _spec(record),
        }
        return await self._write(
            f"creating Lease {self._where}",
            leases.create_namespaced_lease(
                self.namespace, _as_lease(body), _request_timeout=self._timeout
            ),
        )

    async def replace(self, read: ReadLease, record: LeaseRecord) -> bool:
        """Write `record` over the Lease as `read`; False when it changed or went since."""
        leases = await self._leases()
        body = dict(read.body)
        body["spec"] = read.body.get("spec", {}) | _spec(record)
        return await self._write(
            f"replacing Lease {self._where}",
            leases.replace_namespaced_lease(
                self.name, self.namespace, _as_lease(body), _request_timeout=self._timeout
            ),
        )

    async def close(self) -> None:
        api, self._api = self._api, None
        if api is not None:
            await api.close()

    @property
    def _where(self) -> str:
        return f"{self.namespace}/{self.name}"

    async def _leases(self) -> CoordinationV1Api:
        if self._api is None:
            self._api = await self._make_api()
        return CoordinationV1Api(api_client=self._api)

    def _body(self, lease: V1Lease) -> dict[str, Any]:
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

    async def _write(self, what: str, request: Any) -> bool:
        try:
            await call(what, request)
        except KubeApiError as exc:
            if exc.status in (404, 409):  # created, changed or deleted by someone else
                return False
            raise
        return True


def _record(lease: V1Lease) -> LeaseRecord:
    spec = lease.spec
    if spec is None:
        return LeaseRecord(holder="")
    return LeaseRecord(
        holder=spec.holder_identity or "",
        duration_seconds=spec.lease_duration_seconds,
        acquire_time=spec.acquire_time,
        renew_time=spec.renew_time,
        transitions=spec.lease_transitions,
    )


def _spec(record: LeaseRecord) -> dict[str, Any]:
    """The spec fields `record` sets; unset ones keep what the Lease had."""
    fields: dict[str, Any] = {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.duration_seconds,
        "acquireTime": None if record.acquire_time is None else micro_time(record.acquire_time),
        "renewTime": None if record.renew_time is None else micro_time(record.renew_time),
        "leaseTransitions": record.transitions,
    }
    return {key: value for key, value in fields.items() if value is not None}


def _as_lease(body: dict[str, Any]) -> V1Lease:
    # The client serializes a dict as it is, so the times keep the exact MicroTime format
    # (a V1Lease's datetimes would lose ".000000" on a whole second, which the API server
    # refuses to parse).
    return cast(V1Lease, body)

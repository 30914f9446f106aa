"""The `leader` section of the config file: which lock decides where the timers run.

By default the escalation timers run in the replica holding a PostgreSQL advisory lock
(on SQLite there is one process, and it leads). In a Kubernetes cluster a
coordination.k8s.io/v1 Lease can decide instead, as controllers do; the implementation
is `bot.replicas.lease.KubernetesLeaseLeader`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from alerts.durations import Duration

_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class KubernetesLeaseConfig(BaseModel):
    """A coordination.k8s.io/v1 Lease held by the replica that runs the timers."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    namespace: str
    """The Lease's namespace (usually the bot's own); a DNS-1123 label."""
    name: str
    """The Lease's name, shared by every replica; a DNS-1123 subdomain."""
    identity: str | None = None
    """This replica's holderIdentity; unset: the host (pod) name plus a random suffix."""
    lease_duration: Duration = timedelta(seconds=15)
    """How long a standby waits after the lease last changed before taking it over
    (written as leaseDurationSeconds, so whole seconds)."""
    renew_deadline: Duration = timedelta(seconds=10)
    """How long the holder keeps leading while renewals fail; shorter than lease_duration,
    so it stops before a standby may take over."""
    retry_period: Duration = timedelta(seconds=2)
    """The least time between two renewals of a held lease."""
    host: str | None = None
    """An API server URL (tests, a bot outside the cluster); unset: in-cluster config,
    else the kubeconfig."""
    kubeconfig: str | None = None
    """A kubeconfig file to use instead of `~/.kube/config`."""
    context: str | None = None
    """The kubeconfig context; unset: its current context."""

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if len(value) > 63 or not re.match(_DNS_LABEL, value):
            raise ValueError(f"{value!r} is not a valid namespace (a DNS-1123 label)")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if len(value) > 253 or not re.match(_DNS_SUBDOMAIN, value):
            raise ValueError(f"{value!r} is not a valid Lease name (a DNS-1123 subdomain)")
        return value

    @field_validator("identity")
    @classmethod
    def _identity(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("identity must not be empty; leave it unset for the host name")
        return value

    @model_validator(mode="after")
    def _timings(self) -> KubernetesLeaseConfig:
        lease = self.lease_duration.total_seconds()
        if lease < 1 or lease != int(lease):
            raise ValueError("lease_duration must be a whole number of seconds, at least 1s")
        if self.retry_period <= timedelta(0):
            raise ValueError("retry_period must be more than 0s")
        if self.renew_deadline >= self.lease_duration:
            raise ValueError("renew_deadline must be shorter than lease_duration")
        if self.renew_deadline <= self.retry_period:
            raise ValueError("renew_deadline must be longer than retry_period")
        return self


class LeaderConfig(BaseModel):
    """Which lock decides the replica that runs the escalation timers."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    backend: Literal["postgres", "kubernetes"] = "postgres"
    """`postgres`: a PostgreSQL advisory lock (SQLite: always this process);
    `kubernetes`: a coordination.k8s.io/v1 Lease, configured under `kubernetes`."""
    kubernetes: KubernetesLeaseConfig | None = None
    """The Lease, for `backend: kubernetes`."""

    @model_validator(mode="after")
    def _backend_settings(self) -> LeaderConfig:
        if self.backend == "kubernetes" and self.kubernetes is None:
            raise ValueError("backend kubernetes needs a `kubernetes` section (namespace, name)")
        return self

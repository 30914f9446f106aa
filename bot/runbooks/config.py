"""The `runbooks` section of the config file: where the runbooks are, how far Run may
scale, and how the step actions reach Kubernetes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KubernetesConnection(BaseModel):
    """How `k8s.*` steps reach the API server; all unset means in-cluster or ~/.kube/config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = None
    """An explicit API server URL wins over everything else (tests, a bot outside the cluster)."""
    kubeconfig: str | None = None
    context: str | None = None


class RunbooksConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    directory: str | None = None
    """Default: the runbooks shipped with the bot (runbooks/ beside the package)."""
    scale_max: int = Field(default=20, ge=1, le=1000)
    """A label can ask `k8s.scale` for any number; 20 leaves room for the shipped SCALING
    runbook (12 replicas) while keeping a typo from exhausting the cluster."""
    kubernetes: KubernetesConnection = Field(default_factory=KubernetesConnection)

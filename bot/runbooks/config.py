"""The `runbooks` section of the config file: where the runbooks are, how far Run may
scale, who may run steps and approve the ones that change things, and how the step
actions reach Kubernetes."""

from __future__ import annotations

from functools import partial

from pydantic import BaseModel, ConfigDict, Field, field_validator

from actions.kube.client import ApiClientFactory, build_api_client
from alerts.allow_lists import check_targets


class KubernetesConnection(BaseModel):
    """How `k8s.*` steps reach the API server; all unset means in-cluster or ~/.kube/config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = Field(
        default=None,
        description="An API server URL; wins over everything else (tests, a bot outside the "
        "cluster). Unset: in-cluster config, else the kubeconfig.",
    )
    kubeconfig: str | None = Field(
        default=None, description="A kubeconfig file to use instead of `~/.kube/config`."
    )
    context: str | None = Field(
        default=None, description="The kubeconfig context; unset: its current context."
    )

    def client_factory(self) -> ApiClientFactory:
        """Builds the client these settings describe, when first needed."""
        return partial(
            build_api_client, host=self.host, kubeconfig=self.kubeconfig, context=self.context
        )


class RunbooksConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    directory: str | None = Field(
        default=None,
        description="Where the runbooks are loaded from at start. Unset: the runbooks shipped "
        "with the bot.",
    )
    scale_max: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="The most replicas a `k8s.scale` step may ask for; more is refused before "
        "anything runs or any approval is asked. 20 leaves room for the shipped SCALING runbook "
        "(12) while keeping a typo from exhausting the cluster.",
    )
    kubernetes: KubernetesConnection = Field(default_factory=KubernetesConnection)
    targets: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "What a step may reach when its namespace, workload or deployment comes from alert "
            "data (`{{ labels.namespace }}`): namespace -> Deployment names, `*` for any in "
            "it, or label selectors (`app=api,tier=web`: Deployments whose labels hold all "
            "of them). Outside it, k8s.pods and k8s.logs need approval like a change, and "
            "k8s.restart and k8s.scale are refused (a note in the thread, an audit event). "
            "A route's `runbooks.targets` replaces it for that route's alerts. Literal values "
            "in a runbook are not limited by it."
        ),
    )
    http_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Hosts an `http.check` URL may name when its host comes from alert data, and the "
            "only hosts it may reach on a loopback, link-local, private (10/8, 172.16/12, "
            "192.168/16, fc00::/7), otherwise non-global or metadata address (checked on every "
            "address the host resolves to). Empty: alert data may not pick a host, and such "
            "addresses are never requested. A route's `runbooks.http_hosts` replaces it for "
            "that route's alerts."
        ),
    )
    oncall: list[str] | None = Field(
        default=None,
        description=(
            "Who may click Run, Done and Skip: user ids (U...) or user-group ids (S...), "
            "resolved like deployers. Read-only steps run at once for them; steps that change "
            "things ask for approval. Others are told so ephemerally and nothing changes. "
            "Unset: the alert's responders (its route's `responders`, else "
            "`alerts.responders`, the people who may Acknowledge it; anyone when both are "
            "unset); an empty list: nobody."
        ),
    )
    approvers: list[str] | None = Field(
        default=None,
        description=(
            "Who may approve, by reaction, a step that changes things (k8s.restart, "
            "k8s.scale, alertmanager.silence, requires_approval). Unset: `deploy.approvers`. "
            "The reactions and the expiry (`deploy.request_ttl`) are the deploy ones."
        ),
    )
    approvals: int = Field(
        default=1,
        ge=1,
        le=10,
        description=(
            "Approvals such a step needs; the requester's own never counts. One: an "
            "incident is no time to wait for a second approver, and a step is bounded "
            "(one workload, `scale_max`)."
        ),
    )

    _targets = field_validator("targets")(check_targets)

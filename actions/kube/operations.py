"""Runbook steps that act on Kubernetes workloads: list pods, read logs, restart, scale.

Runbook steps run from alerts, and their arguments (namespace, workload, line and replica
counts) come from alert labels: text that whoever can fire an alert controls. So every
argument is validated before any request is made, and a bad one is a ValueError saying
what is wrong. Results are plain dataclasses that the Slack layer renders without knowing
Kubernetes types; API failures are KubeApiError, whose text is safe to show.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes_asyncio.client import ApiClient, AppsV1Api, CoreV1Api, V1Pod

from actions.kube.client import (
    ApiClientFactory,
    KubeApiError,
    call,
    call_text,
    check_name,
    selector_string,
)

MAX_LOG_LINES = 1000
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@dataclass(frozen=True)
class PodSummary:
    """One row of `kubectl get pods`."""

    name: str
    phase: str
    ready: int
    containers: int
    restarts: int
    age: timedelta | None
    # Why a container is not running, e.g. CrashLoopBackOff (what kubectl shows as STATUS).
    reason: str | None = None

    @property
    def ready_text(self) -> str:
        return f"{self.ready}/{self.containers}"


@dataclass(frozen=True)
class RestartResult:
    namespace: str
    deployment: str
    restarted_at: str


@dataclass(frozen=True)
class ScaleResult:
    namespace: str
    deployment: str
    old_replicas: int
    new_replicas: int


def _check_int(value: object, what: str, low: int, high: int) -> int:
    # bool is an int to Python, but `replicas=True` is a bug, not 1.
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{what} must be a whole number from {low} to {high}, not {value!r:.40}")
    return value


class KubeOperations:
    """The runbook steps, over one ApiClient the caller owns.

    `max_replicas` caps `scale`: a label saying 10000 should not be able to exhaust the
    cluster. `request_timeout` bounds every request (the client waits forever otherwise).
    """

    def __init__(
        self, api: ApiClient, *, request_timeout: float = 30.0, max_replicas: int = 100
    ) -> None:
        self._apps = AppsV1Api(api)
        self._core = CoreV1Api(api)
        self._timeout = request_timeout
        self._max_replicas = max_replicas

    async def pods(
        self, namespace: str, workload: str, *, now: datetime | None = None
    ) -> list[PodSummary]:
        """The pods of Deployment `workload`, by name, with ages relative to `now`."""
        check_name(namespace, "namespace", label=True)
        check_name(workload, "Deployment name")
        current = now or datetime.now(UTC)
        return [_summary(pod, current) for pod in await self._pods_of(namespace, workload)]

    async def logs(
        self,
        namespace: str,
        workload_or_pod: str,
        lines: int = 100,
        container: str | None = None,
    ) -> str:
        """The last `lines` log lines of a pod, or of a Deployment's newest running pod."""
        check_name(namespace, "namespace", label=True)
        check_name(workload_or_pod, "workload or pod name")
        _check_int(lines, "lines", 1, MAX_LOG_LINES)
        if container is not None:
            check_name(container, "container name", label=True)
        pod = workload_or_pod
        try:
            candidates = await self._pods_of(namespace, workload_or_pod)
        except KubeApiError as error:
            if error.status != 404:
                raise
        else:
            if not candidates:
                raise KubeApiError(f"Deployment {namespace}/{workload_or_pod} has no pods")
            pod = _newest(candidates).metadata.name
        only: dict[str, Any] = {} if container is None else {"container": container}
        return await call_text(
            f"reading the logs of pod {namespace}/{pod}",
            self._core.read_namespaced_pod_log(
                pod,
                namespace,
                tail_lines=lines,
                _preload_content=False,
                _request_timeout=self._timeout,
                **only,
            ),
        )

    async def restart(self, namespace: str, deployment: str, now: datetime) -> RestartResult:
        """What `kubectl rollout restart` does: stamp the pod template so pods roll."""
        check_name(namespace, "namespace", label=True)
        check_name(deployment, "Deployment name")
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        what = f"restarting Deployment {namespace}/{deployment}"
        current = await call(
            what,
            self._apps.read_namespaced_deployment(
                deployment, namespace, _request_timeout=self._timeout
            ),
        )
        if current.spec is not None and current.spec.paused:
            # As kubectl: a paused Deployment would not roll, so the stamp would lie.
            raise KubeApiError(f"Deployment {namespace}/{deployment} is paused; resume it first")
        stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        await call(
            what,
            self._apps.patch_namespaced_deployment(
                deployment, namespace, patch, _request_timeout=self._timeout
            ),
        )
        return RestartResult(namespace, deployment, stamp)

    async def scale(self, namespace: str, deployment: str, replicas: int) -> ScaleResult:
        """Set the replica count through the scale subresource, as `kubectl scale` does."""
        check_name(namespace, "namespace", label=True)
        check_name(deployment, "Deployment name")
        _check_int(replicas, "replicas", 0, self._max_replicas)
        what = f"scaling Deployment {namespace}/{deployment}"
        scale = await call(
            what,
            self._apps.read_namespaced_deployment_scale(
                deployment, namespace, _request_timeout=self._timeout
            ),
        )
        # spec.replicas is omitted when 0 (omitempty in the API's Go types).
        old = (scale.spec.replicas if scale.spec else None) or 0
        # The resourceVersion makes the write conditional, so the reported old count is
        # the one actually replaced, not one someone changed in between.
        rv = scale.metadata.resource_version if scale.metadata else None
        patch = {"metadata": {"resourceVersion": rv}, "spec": {"replicas": replicas}}
        try:
            result = await call(
                what,
                self._apps.patch_namespaced_deployment_scale(
                    deployment, namespace, patch, _request_timeout=self._timeout
                ),
            )
        except KubeApiError as error:
            if error.status == 409:
                raise KubeApiError(
                    f"Deployment {namespace}/{deployment} was scaled by someone else meanwhile; "
                    "nothing was changed",
                    status=409,
                    reason=error.reason,
                ) from error
            raise
        new = (result.spec.replicas if result.spec else None) or 0
        return ScaleResult(namespace, deployment, old, new)

    async def deployment_labels(self, namespace: str, deployment: str) -> dict[str, str]:
        """The Deployment's own labels (what a label-selector allow-list is checked against)."""
        check_name(namespace, "namespace", label=True)
        check_name(deployment, "Deployment name")
        found = await call(
            f"reading Deployment {namespace}/{deployment}",
            self._apps.read_namespaced_deployment(
                deployment, namespace, _request_timeout=self._timeout
            ),
        )
        labels = found.metadata.labels if found.metadata else None
        return {str(k): str(v) for k, v in (labels or {}).items()}

    async def _pods_of(self, namespace: str, deployment: str) -> list[V1Pod]:
        found = await call(
            f"reading Deployment {namespace}/{deployment}",
            self._apps.read_namespaced_deployment(
                deployment, namespace, _request_timeout=self._timeout
            ),
        )
        selector = selector_string(found.spec.selector if found.spec else None)
        if not selector:
            # An empty selector would match every pod in the namespace.
            raise KubeApiError(f"Deployment {namespace}/{deployment} has no pod selector")
        pods = await call(
            f"listing the pods of Deployment {namespace}/{deployment}",
            self._core.list_namespaced_pod(
                namespace, label_selector=selector, _request_timeout=self._timeout
            ),
        )
        return sorted(pods.items or [], key=lambda pod: pod.metadata.name)


class KubeConnector:
    """One KubeOperations for the process, its ApiClient built on first use: a bot without
    Kubernetes access starts fine and only the steps that need it report the problem."""

    def __init__(self, make_api: ApiClientFactory, *, max_replicas: int) -> None:
        self._make_api = make_api
        self._max_replicas = max_replicas
        self._api: ApiClient | None = None
        self._ops: KubeOperations | None = None
        self._lock = asyncio.Lock()

    async def operations(self) -> KubeOperations:
        async with self._lock:
            if self._ops is None:
                self._api = await self._make_api()
                self._ops = KubeOperations(self._api, max_replicas=self._max_replicas)
            return self._ops

    async def close(self) -> None:
        if self._api is not None:
            await self._api.close()
        self._api = None
        self._ops = None


def _newest(pods: list[V1Pod]) -> V1Pod:
    """The newest running pod, else the newest: a pending pod has no logs yet."""
    running = [pod for pod in pods if pod.status is not None and pod.status.phase == "Running"]
    oldest = datetime.min.replace(tzinfo=UTC)
    return max(running or pods, key=lambda pod: pod.metadata.creation_timestamp or oldest)


def _summary(pod: V1Pod, now: datetime) -> PodSummary:
    status, spec = pod.status, pod.spec
    statuses = (status.container_statuses if status else None) or []
    reason = None
    for container in statuses:
        state = container.state
        stuck = (state.waiting or state.terminated) if state else None
        if stuck is not None and stuck.reason:
            reason = stuck.reason
            break
    created = pod.metadata.creation_timestamp
    return PodSummary(
        name=pod.metadata.name,
        phase=(status.phase if status else None) or "Unknown",
        ready=sum(1 for c in statuses if c.ready),
        containers=len(spec.containers) if spec else len(statuses),
        restarts=sum(c.restart_count or 0 for c in statuses),
        age=None if created is None else max(now - created, timedelta(0)),
        reason=reason,
    )

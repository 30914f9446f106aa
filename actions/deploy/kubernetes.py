"""Blue/green deploys on Kubernetes: the `kubernetes` deploy backend.

Each service and environment has two Deployments, `<prefix>-blue` and `<prefix>-green`
(DESIGN.md, "Deployment model"). A deploy rolls the idle colour's container image to the
new tag and waits for it, judging the rollout exactly as `kubectl rollout status` does.
Traffic moves through the weighted backendRefs of a Gateway API HTTPRoute (any split), or,
in setups without a Gateway, by switching a Service's colour selector (0/100 only).

Reading state, a colour's version is None when its Deployment is missing or scaled to
zero: such a colour serves nothing, so no plan should count on it to take traffic back.
For the same reason a deploy to a Deployment scaled to zero is refused rather than
reported healthy with no pods.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from kubernetes_asyncio.client import (
    ApiClient,
    AppsV1Api,
    CoreV1Api,
    CustomObjectsApi,
    V1Deployment,
)

from actions.deploy.base import BackendError, RolloutFailed, TemporaryBackendError
from actions.deploy.kubernetes_config import KubernetesTargetConfig
from actions.deploy.kubernetes_rollout import (
    container_image,
    container_of,
    rollout_status,
    split_image,
)
from actions.deploy.route_weights import checked_weights, route_split, rules_with_weights
from actions.kube.client import (
    ApiClientFactory,
    KubeApiError,
    call,
    check_name,
    selector_string,
)
from commands.targets import COLOURS, Colour, DeploymentState, Target, other

T = TypeVar("T")

GATEWAY_GROUP, GATEWAY_VERSION, HTTPROUTES = "gateway.networking.k8s.io", "v1", "httproutes"
# kubernetes_asyncio picks JSON Patch for a dict body sent to a custom object, which the
# API server rejects; the stubs omit `_content_type`, which the client does accept.
_MERGE_PATCH: dict[str, Any] = {"_content_type": "application/merge-patch+json"}
# Docker's tag grammar: what may follow the ':' of an image reference.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class KubernetesBackend:
    """The Backend for Kubernetes targets.

    `api` is an ApiClient the caller owns, or a factory called once, on first use, whose
    client `aclose()` closes. `request_timeout` bounds every API request: the client
    library waits forever by default.
    """

    def __init__(
        self,
        api: ApiClient | ApiClientFactory,
        targets: Mapping[Target, KubernetesTargetConfig],
        *,
        request_timeout: float = 30.0,
    ) -> None:
        self._api: ApiClient | None = api if isinstance(api, ApiClient) else None
        self._factory: ApiClientFactory | None = None if isinstance(api, ApiClient) else api
        self._targets = dict(targets)
        self._request_timeout = request_timeout
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self._factory is not None and self._api is not None:
            await self._api.close()
            self._api = None

    # Backend

    async def state(self, target: Target) -> DeploymentState:
        cfg = self._config(target)
        found = await asyncio.gather(
            *(
                self._read_deployment(
                    cfg.namespace, cfg.deployment_name(target, colour), missing_ok=True
                )
                for colour in COLOURS
            )
        )
        versions = {
            colour: self._running_version(cfg, deployment)
            for colour, deployment in zip(COLOURS, found, strict=True)
        }
        if cfg.route is not None:
            weights = route_split(await self._read_route(cfg), cfg, target)
        else:
            weights = await self._service_split(cfg)
        live: Colour = "green" if weights["green"] > weights["blue"] else "blue"
        return DeploymentState(live=live, versions=versions, weights=weights)

    # The Backend protocol names the parameter `timeout` (hence the noqa); it bounds the
    # wait for health, not the whole call.
    async def deploy(
        self,
        target: Target,
        colour: Colour,
        version: str,
        *,
        timeout: float,
    ) -> None:
        cfg = self._config(target)
        if not _TAG.fullmatch(version):
            raise BackendError(f"{version[:80]!r} is not a valid image tag")
        name, namespace = cfg.deployment_name(target, colour), cfg.namespace
        deployment = await self._read_deployment(namespace, name)
        if deployment is None:
            raise BackendError(f"Deployment {namespace}/{name} does not exist")
        if deployment.spec is not None and deployment.spec.replicas == 0:
            raise BackendError(
                f"Deployment {namespace}/{name} is scaled to 0, so a rollout would prove "
                "nothing; scale it up first"
            )
        if deployment.spec is not None and deployment.spec.paused:
            # A paused Deployment never rolls: waiting would only burn the whole timeout.
            raise BackendError(f"Deployment {namespace}/{name} is paused; resume it first")
        container = container_of(cfg, deployment)
        image = f"{cfg.image or split_image(container.image or '')[0]}:{version}"
        patch = {
            "spec": {
                "template": {"spec": {"containers": [{"name": container.name, "image": image}]}}
            }
        }
        apps = AppsV1Api(await self._client())
        # A dict body goes out as a strategic merge patch, which merges `containers` by
        # name and so leaves the other containers and fields alone.
        await self._request(
            f"updating the image of Deployment {namespace}/{name}",
            apps.patch_namespaced_deployment(
                name, namespace, patch, _request_timeout=self._request_timeout
            ),
        )
        await self._wait_for_rollout(
            cfg, name, container.name, image, min(timeout, cfg.rollout_timeout)
        )

    async def set_weights(self, target: Target, weights: dict[Colour, int]) -> None:
        cfg = self._config(target)
        wanted = checked_weights(weights)
        if cfg.route is None:
            await self._switch_service(cfg, wanted)
            return
        route = await self._read_route(cfg)
        rules = rules_with_weights(route, cfg, target, wanted)
        if rules == route["spec"].get("rules"):
            return
        # Sending the resourceVersion read above makes the write conditional: if anyone
        # changed the route meanwhile the API server answers 409 instead of us silently
        # overwriting their change with rules computed from the old route.
        patch = {
            "metadata": {"resourceVersion": route["metadata"]["resourceVersion"]},
            "spec": {"rules": rules},
        }
        objects = CustomObjectsApi(await self._client())
        what = f"updating HTTPRoute {cfg.namespace}/{cfg.route}"
        try:
            await call(
                what,
                objects.patch_namespaced_custom_object(
                    GATEWAY_GROUP,
                    GATEWAY_VERSION,
                    cfg.namespace,
                    HTTPROUTES,
                    cfg.route,
                    patch,
                    _request_timeout=self._request_timeout,
                    **_MERGE_PATCH,
                ),
            )
        except KubeApiError as error:
            if error.status == 409:
                raise BackendError(
                    f"HTTPRoute {cfg.namespace}/{cfg.route} changed meanwhile, so traffic was "
                    "not moved; check the current state and try again"
                ) from error
            raise _backend_error(error) from error

    # rollouts

    async def _wait_for_rollout(
        self, cfg: KubernetesTargetConfig, name: str, container: str, image: str, budget: float
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        apps = AppsV1Api(await self._client())
        what = f"reading Deployment {cfg.namespace}/{name}"
        detail, unreachable = "its status could not be read", None
        last: V1Deployment | None = None
        while True:
            remaining = deadline - loop.time()
            try:
                last = await call(
                    what,
                    apps.read_namespaced_deployment(
                        name,
                        cfg.namespace,
                        _request_timeout=max(min(self._request_timeout, remaining), 0.1),
                    ),
                )
            except KubeApiError as error:
                # A blip while polling says nothing about the rollout: keep polling.
                if not error.transient:
                    raise _backend_error(error) from error
                unreachable = error
            else:
                unreachable = None
                running = container_image(last, container)
                if running != image:
                    raise BackendError(
                        f"Deployment {cfg.namespace}/{name} was changed by someone else during "
                        f"the rollout (its image is now {running}); stopped waiting"
                    )
                verdict, detail = rollout_status(last)
                if verdict == "failed":
                    hint = await self._pod_problems(cfg.namespace, last)
                    raise RolloutFailed(f"Rollout of {name} to {image} failed: {detail}{hint}")
                if verdict == "done":
                    return
            remaining = deadline - loop.time()
            if remaining <= 0:
                if unreachable is not None:
                    raise TemporaryBackendError(
                        f"Could not confirm the rollout of {name} to {image}: {unreachable}"
                    )
                hint = await self._pod_problems(cfg.namespace, last) if last else ""
                raise RolloutFailed(
                    f"{name} did not become healthy on {image} within {budget:g}s: {detail}{hint}"
                )
            await asyncio.sleep(min(cfg.poll_interval, remaining))

    async def _pod_problems(self, namespace: str, deployment: V1Deployment) -> str:
        """Why pods are unhealthy (e.g. "2× CrashLoopBackOff"), best effort, for the message."""
        selector = selector_string(deployment.spec.selector if deployment.spec else None)
        if not selector:
            return ""
        core = CoreV1Api(await self._client())
        try:
            pods = await call(
                "listing pods",
                core.list_namespaced_pod(
                    namespace, label_selector=selector, _request_timeout=self._request_timeout
                ),
            )
        except KubeApiError:
            return ""
        reasons: Counter[str] = Counter()
        for pod in pods.items or []:
            for status in (pod.status.container_statuses if pod.status else None) or []:
                waiting = status.state.waiting if status.state else None
                if waiting is not None and waiting.reason:
                    reasons[waiting.reason] += 1
        if not reasons:
            return ""
        return " (pods: " + ", ".join(f"{n}× {reason}" for reason, n in reasons.most_common()) + ")"

    # reading and switching traffic

    async def _read_route(self, cfg: KubernetesTargetConfig) -> dict[str, Any]:
        assert cfg.route is not None
        objects = CustomObjectsApi(await self._client())
        route = await self._request(
            f"reading HTTPRoute {cfg.namespace}/{cfg.route}",
            objects.get_namespaced_custom_object(
                GATEWAY_GROUP,
                GATEWAY_VERSION,
                cfg.namespace,
                HTTPROUTES,
                cfg.route,
                _request_timeout=self._request_timeout,
            ),
        )
        if not isinstance(route, dict) or not isinstance(route.get("spec"), dict):
            raise BackendError(f"HTTPRoute {cfg.namespace}/{cfg.route} has no spec")
        return route

    async def _service_split(self, cfg: KubernetesTargetConfig) -> dict[Colour, int]:
        assert cfg.service is not None
        core = CoreV1Api(await self._client())
        service = await self._request(
            f"reading Service {cfg.namespace}/{cfg.service}",
            core.read_namespaced_service(
                cfg.service, cfg.namespace, _request_timeout=self._request_timeout
            ),
        )
        selector = (service.spec.selector if service.spec else None) or {}
        selected = selector.get(cfg.colour_label)
        for colour in COLOURS:
            if selected == colour:
                return {colour: 100, other(colour): 0}
        raise BackendError(
            f"Service {cfg.namespace}/{cfg.service} selects {cfg.colour_label}="
            f"{str(selected)[:40]!r}, not blue or green"
        )

    async def _switch_service(
        self, cfg: KubernetesTargetConfig, weights: dict[Colour, int]
    ) -> None:
        assert cfg.service is not None
        live = [colour for colour in COLOURS if weights[colour] == 100]
        if not live:
            raise BackendError(
                f"Service {cfg.namespace}/{cfg.service} can only send all traffic to one colour "
                f"(100/0); a {weights['blue']}/{weights['green']} split needs an HTTPRoute: "
                "configure `route` for this target"
            )
        core = CoreV1Api(await self._client())
        # Strategic merge patch merges the selector map: only the colour key changes.
        await self._request(
            f"switching Service {cfg.namespace}/{cfg.service} to {live[0]}",
            core.patch_namespaced_service(
                cfg.service,
                cfg.namespace,
                {"spec": {"selector": {cfg.colour_label: live[0]}}},
                _request_timeout=self._request_timeout,
            ),
        )

    # plumbing

    def _config(self, target: Target) -> KubernetesTargetConfig:
        cfg = self._targets.get(target)
        if cfg is None:
            raise BackendError(f"No Kubernetes settings for {target.service}/{target.environment}")
        try:
            for colour in COLOURS:
                check_name(cfg.deployment_name(target, colour), "Deployment name")
        except ValueError as error:
            raise BackendError(str(error)) from error
        return cfg

    async def _client(self) -> ApiClient:
        async with self._lock:
            if self._api is None:
                assert self._factory is not None
                self._api = await self._factory()
            return self._api

    async def _request(self, what: str, request: Awaitable[T]) -> T:
        try:
            return await call(what, request)
        except KubeApiError as error:
            raise _backend_error(error) from error

    async def _read_deployment(
        self, namespace: str, name: str, *, missing_ok: bool = False
    ) -> V1Deployment | None:
        apps = AppsV1Api(await self._client())
        try:
            return await call(
                f"reading Deployment {namespace}/{name}",
                apps.read_namespaced_deployment(
                    name, namespace, _request_timeout=self._request_timeout
                ),
            )
        except KubeApiError as error:
            if error.status == 404 and missing_ok:
                return None
            if error.status == 404:
                raise BackendError(f"Deployment {namespace}/{name} does not exist") from error
            raise _backend_error(error) from error

    def _running_version(
        self, cfg: KubernetesTargetConfig, deployment: V1Deployment | None
    ) -> str | None:
        if deployment is None or deployment.spec is None or deployment.spec.replicas == 0:
            return None
        image = container_of(cfg, deployment).image or ""
        repository, tag = split_image(image)
        # Someone else's image (or a digest) is shown whole, not mistaken for our tag.
        if tag is None or (cfg.image is not None and repository != cfg.image):
            return image
        return tag


def _backend_error(error: KubeApiError) -> BackendError:
    return TemporaryBackendError(str(error)) if error.transient else BackendError(str(error))

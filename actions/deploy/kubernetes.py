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
import copy
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Self, TypeVar

from kubernetes_asyncio.client import (
    ApiClient,
    AppsV1Api,
    CoreV1Api,
    CustomObjectsApi,
    V1Container,
    V1Deployment,
)
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from actions.deploy.base import BackendError, RolloutFailed, TemporaryBackendError
from actions.kube.client import KubeApiError, call, check_name, selector_string
from commands.targets import COLOURS, Colour, DeploymentState, Target, other

T = TypeVar("T")
ApiClientFactory = Callable[[], Awaitable[ApiClient]]

GATEWAY_GROUP, GATEWAY_VERSION, HTTPROUTES = "gateway.networking.k8s.io", "v1", "httproutes"
# kubernetes_asyncio picks JSON Patch for a dict body sent to a custom object, which the
# API server rejects; the stubs omit `_content_type`, which the client does accept.
_MERGE_PATCH: dict[str, Any] = {"_content_type": "application/merge-patch+json"}
# Docker's tag grammar: what may follow the ':' of an image reference.
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_REPOSITORY = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*")
_LABEL_KEY = re.compile(r"([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


class KubernetesTargetConfig(BaseModel):
    """Where one Target lives on Kubernetes; every object is in `namespace`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace: str
    # Deployments are `<deployment_prefix>-blue|green`; default: the target's service name.
    deployment_prefix: str | None = None
    # The container whose image changes; default: the first in the pod template.
    container: str | None = None
    # Repository without tag (registry.example.com/api); default: the one already running.
    image: str | None = None
    # HTTPRoute whose backendRefs to `<service_prefix>-blue|green` carry the weights.
    route: str | None = None
    # Prefix of the per-colour Services the route points at; default: deployment_prefix.
    service_prefix: str | None = None
    # Service whose `colour_label` selector switches traffic when there is no route.
    service: str | None = None
    colour_label: str = "colour"
    rollout_timeout: float = Field(default=600.0, gt=0)
    poll_interval: float = Field(default=2.0, gt=0)

    @field_validator("namespace", "container")
    @classmethod
    def _dns_label(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value, "name", label=True)

    @field_validator("deployment_prefix", "route", "service")
    @classmethod
    def _dns_subdomain(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value, "name")

    @field_validator("service_prefix")
    @classmethod
    def _service_prefix(cls, value: str | None) -> str | None:
        # Service names are DNS labels; leave room for "-green".
        if value is not None and len(check_name(value, "service_prefix", label=True)) > 57:
            raise ValueError("service_prefix must be at most 57 characters")
        return value

    @field_validator("image")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        if value is not None and not _REPOSITORY.fullmatch(value):
            raise ValueError(f"image {value!r} must be a repository without tag or digest")
        return value

    @field_validator("colour_label")
    @classmethod
    def _label_key(cls, value: str) -> str:
        if not _LABEL_KEY.fullmatch(value):
            raise ValueError(f"colour_label {value!r} is not a valid label key")
        return value

    @model_validator(mode="after")
    def _one_traffic_switch(self) -> Self:
        if (self.route is None) == (self.service is None):
            raise ValueError("set exactly one of `route` (weighted) or `service` (0/100 switch)")
        return self

    def deployment_name(self, target: Target, colour: Colour) -> str:
        prefix = self.deployment_prefix or check_name(target.service, "service name")
        return f"{prefix}-{colour}"

    def service_names(self, target: Target) -> dict[Colour, str]:
        prefix = self.service_prefix or self.deployment_prefix or target.service
        return {colour: f"{prefix}-{colour}" for colour in COLOURS}


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
            weights = _route_split(await self._read_route(cfg), cfg, target)
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
        container = _container(cfg, deployment)
        image = f"{cfg.image or _split_image(container.image or '')[0]}:{version}"
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
        wanted = _checked_weights(weights)
        if cfg.route is None:
            await self._switch_service(cfg, wanted)
            return
        route = await self._read_route(cfg)
        rules = _rules_with_weights(route, cfg, target, wanted)
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
                running = _container_image(last, container)
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
        image = _container(cfg, deployment).image or ""
        repository, tag = _split_image(image)
        # Someone else's image (or a digest) is shown whole, not mistaken for our tag.
        if tag is None or (cfg.image is not None and repository != cfg.image):
            return image
        return tag


def rollout_status(deployment: V1Deployment) -> tuple[Literal["done", "waiting", "failed"], str]:
    """Judge a rollout as `kubectl rollout status` does, with its wording."""
    generation = (deployment.metadata.generation if deployment.metadata else None) or 0
    status, spec = deployment.status, deployment.spec
    if status is None or generation > (status.observed_generation or 0):
        return "waiting", "waiting for the Deployment controller to observe the change"
    for condition in status.conditions or []:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            return "failed", f"it exceeded its progress deadline ({condition.message})"
    wanted = spec.replicas if spec is not None and spec.replicas is not None else 1
    updated, total = status.updated_replicas or 0, status.replicas or 0
    available = status.available_replicas or 0
    if updated < wanted:
        return "waiting", f"{updated} out of {wanted} new replicas have been updated"
    if total > updated:
        return "waiting", f"{total - updated} old replicas are pending termination"
    if available < updated:
        return "waiting", f"{available} of {updated} updated replicas are available"
    return "done", "successfully rolled out"


def _backend_error(error: KubeApiError) -> BackendError:
    return TemporaryBackendError(str(error)) if error.transient else BackendError(str(error))


def _container(cfg: KubernetesTargetConfig, deployment: V1Deployment) -> V1Container:
    spec = deployment.spec.template.spec if deployment.spec else None
    containers = (spec.containers if spec else None) or []
    for container in containers:
        if cfg.container is None or container.name == cfg.container:
            return container
    name = deployment.metadata.name if deployment.metadata else "?"
    have = ", ".join(c.name for c in containers) or "none"
    raise BackendError(f"Deployment {name} has no container {cfg.container!r} (it has: {have})")


def _container_image(deployment: V1Deployment, name: str) -> str | None:
    spec = deployment.spec.template.spec if deployment.spec else None
    return next((c.image for c in (spec.containers if spec else []) if c.name == name), None)


def _split_image(image: str) -> tuple[str, str | None]:
    """(repository, tag); the tag is None for digests and untagged images."""
    if "@" in image:
        return image.split("@", 1)[0], None
    slash, colon = image.rfind("/"), image.rfind(":")
    # A ':' before the last '/' is a registry port, not a tag.
    return (image[:colon], image[colon + 1 :]) if colon > slash else (image, None)


def _checked_weights(weights: Mapping[Colour, int]) -> dict[Colour, int]:
    values = {colour: weights.get(colour, 0) for colour in COLOURS}
    if (
        set(weights) - set(COLOURS)
        or any(type(v) is not int or not 0 <= v <= 100 for v in values.values())
        or sum(values.values()) != 100
    ):
        raise BackendError(f"Weights must be whole percentages adding up to 100, not {weights}")
    return values


def _colour_refs(
    rule: Any, services: dict[Colour, str], where: str
) -> dict[Colour, dict[str, Any]]:
    """The rule's backendRefs to our two Services, refusing rules we cannot reason about."""
    refs = rule.get("backendRefs") if isinstance(rule, dict) else None
    found: dict[Colour, dict[str, Any]] = {}
    others = 0
    for ref in refs if isinstance(refs, list) else []:
        colour = next((c for c in COLOURS if ref.get("name") == services[c]), None)
        ours = ref.get("kind", "Service") == "Service" and ref.get("group", "") == ""
        if colour is not None and ours:
            if colour in found:
                raise BackendError(
                    f"HTTPRoute {where} refers to {services[colour]} twice in one rule"
                )
            found[colour] = ref
        elif ref.get("weight", 1):
            others += 1
    if found and others:
        raise BackendError(
            f"HTTPRoute {where} also sends traffic to other backends next to "
            f"{services['blue']}/{services['green']}; the bot only manages a two-colour split"
        )
    return found


def _route_split(
    route: dict[str, Any], cfg: KubernetesTargetConfig, target: Target
) -> dict[Colour, int]:
    services, where = cfg.service_names(target), f"{cfg.namespace}/{cfg.route}"
    splits: set[int] = set()
    for rule in route["spec"].get("rules") or []:
        refs = _colour_refs(rule, services, where)
        if not refs:
            continue
        # Gateway API: a backendRef without weight has weight 1; a missing one has 0.
        raw = {
            colour: int(refs[colour].get("weight", 1)) if colour in refs else 0
            for colour in COLOURS
        }
        total = sum(raw.values())
        if total <= 0:
            raise BackendError(f"HTTPRoute {where} gives both colours weight 0")
        splits.add(round(100 * raw["blue"] / total))
    if not splits:
        raise BackendError(
            f"HTTPRoute {where} has no backendRefs to {services['blue']} or {services['green']}"
        )
    if len(splits) > 1:
        raise BackendError(f"HTTPRoute {where} splits traffic differently in different rules")
    blue = splits.pop()
    return {"blue": blue, "green": 100 - blue}


def _rules_with_weights(
    route: dict[str, Any], cfg: KubernetesTargetConfig, target: Target, weights: dict[Colour, int]
) -> list[Any]:
    """The route's rules with our backendRefs re-weighted and every other field kept."""
    services, where = cfg.service_names(target), f"{cfg.namespace}/{cfg.route}"
    rules = copy.deepcopy(route["spec"].get("rules") or [])
    touched = False
    for rule in rules:
        refs = _colour_refs(rule, services, where)
        if not refs:
            continue
        touched = True
        for colour, ref in refs.items():
            ref["weight"] = weights[colour]
        for colour in COLOURS:
            if colour not in refs and weights[colour] > 0:
                # Copy the other colour's ref (port, namespace, filters) under our name.
                twin = copy.deepcopy(refs[other(colour)])
                rule["backendRefs"].append(
                    {**twin, "name": services[colour], "weight": weights[colour]}
                )
    if not touched:
        raise BackendError(
            f"HTTPRoute {where} has no backendRefs to {services['blue']} or {services['green']}"
        )
    return rules

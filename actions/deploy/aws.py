"""The AWS deploy backend: blue/green as two ECS services behind one weighted ALB listener.

Per target (service + environment) each colour is its own ECS service, registered in its
own target group; the listener's default forward action splits traffic between the two
target groups by weight (DESIGN.md, "Deployment model"). A deploy registers a copy of the
colour's task definition with the new image tag and waits for ECS to finish the rollout;
a shift rewrites the listener weights. All boto3 work goes through actions.aws.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from actions.aws.alb import check_weights, read_weights, with_weights
from actions.aws.clients import AwsClients
from actions.aws.ecs import (
    Progress,
    check_version,
    find_container,
    parse_image,
    primary_deployment_id,
    rollout_progress,
    running_version,
    task_definition_copy,
)
from actions.aws.errors import AwsError, redact
from actions.deploy.base import BackendError, RolloutFailed, TemporaryBackendError
from commands.targets import COLOURS, Colour, DeploymentState, Target


class AwsTargetConfig(BaseModel):
    """Where one target's two colours live in AWS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = Field(min_length=1)
    cluster: str = Field(min_length=1)
    services: dict[Colour, str]
    """ECS service name per colour."""
    container: str = Field(min_length=1)
    """Container in the task definition whose image is the deployed version."""
    image: str = Field(min_length=1)
    """Image repository without a tag; the version is the tag."""
    listener_arn: str = Field(min_length=1)
    target_groups: dict[Colour, str]
    """Target group ARN per colour."""
    rollout_timeout: float = Field(default=600.0, gt=0)
    poll_interval: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        for name in ("services", "target_groups"):
            value: dict[Colour, str] = getattr(self, name)
            if set(value) != set(COLOURS):
                raise ValueError(f"{name} needs exactly one entry for blue and one for green")
            if value["blue"] == value["green"]:
                raise ValueError(f"{name} must differ between blue and green")
        ref = parse_image(self.image)
        if ref.tag or ref.digest:
            raise ValueError("image is the repository without a tag; the version becomes the tag")
        return self


@contextmanager
def _as_backend_errors() -> Iterator[None]:
    try:
        yield
    except AwsError as exc:
        error = TemporaryBackendError if exc.transient else BackendError
        raise error(str(exc)) from exc


class AwsBackend:
    """Backend for targets running on ECS behind an ALB; see AwsTargetConfig.

    Credentials come from boto3's default chain. `endpoint_url` sends every call to a
    stand-in such as moto or LocalStack instead of AWS.
    """

    def __init__(
        self, targets: Mapping[Target, AwsTargetConfig], *, endpoint_url: str | None = None
    ) -> None:
        self._targets = dict(targets)
        self._aws = AwsClients(endpoint_url=endpoint_url)

    def _config(self, target: Target) -> AwsTargetConfig:
        try:
            return self._targets[target]
        except KeyError:
            raise BackendError(
                f"no AWS configuration for {target.service}/{target.environment}"
            ) from None

    async def _call(
        self, cfg: AwsTargetConfig, service: str, operation: str, /, **params: Any
    ) -> dict[str, Any]:
        with _as_backend_errors():
            return await self._aws.call(service, cfg.region, operation, **params)

    async def _services(self, cfg: AwsTargetConfig, names: list[str]) -> dict[str, dict[str, Any]]:
        response = await self._call(
            cfg, "ecs", "describe_services", cluster=cfg.cluster, services=names
        )
        found = {s["serviceName"]: s for s in response.get("services", [])}
        for name in names:
            # DescribeServices reports unknown services under "failures", not as an error.
            if name not in found:
                raise BackendError(redact(f"ECS service {name} not found in cluster {cfg.cluster}"))
            status = found[name].get("status")
            if status != "ACTIVE":
                raise BackendError(redact(f"ECS service {name} is {status}, not ACTIVE"))
        return found

    async def _task_definition(self, cfg: AwsTargetConfig, arn: str) -> dict[str, Any]:
        return await self._call(
            cfg, "ecs", "describe_task_definition", taskDefinition=arn, include=["TAGS"]
        )

    async def _listener_actions(self, cfg: AwsTargetConfig) -> list[dict[str, Any]]:
        response = await self._call(
            cfg, "elbv2", "describe_listeners", ListenerArns=[cfg.listener_arn]
        )
        listeners = response.get("Listeners", [])
        if not listeners:
            raise BackendError("the configured ALB listener was not found")
        return list(listeners[0].get("DefaultActions", []))

    async def state(self, target: Target) -> DeploymentState:
        cfg = self._config(target)
        names = [cfg.services[c] for c in COLOURS]
        services, actions = await asyncio.gather(
            self._services(cfg, names), self._listener_actions(cfg)
        )
        arns = {c: str(services[cfg.services[c]]["taskDefinition"]) for c in COLOURS}
        unique = sorted(set(arns.values()))
        described = await asyncio.gather(*(self._task_definition(cfg, a) for a in unique))
        by_arn = dict(zip(unique, described, strict=True))
        versions: dict[Colour, str | None] = {
            c: running_version(by_arn[arns[c]]["taskDefinition"], cfg.container, cfg.image)
            for c in COLOURS
        }
        weights = read_weights(actions, cfg.target_groups)
        live: Colour = "blue" if weights["blue"] >= weights["green"] else "green"
        return DeploymentState(live=live, versions=versions, weights=weights)

    # The timeout parameter is part of the Backend protocol.
    async def deploy(
        self,
        target: Target,
        colour: Colour,
        version: str,
        *,
        timeout: float,
    ) -> None:
        """Point `colour`'s ECS service at a copy of its task definition running `version`.

        Waits for the rollout for the shorter of `timeout` and the target's
        rollout_timeout, counted from the moment the service was updated.
        """
        cfg = self._config(target)
        check_version(version)
        name = cfg.services[colour]
        service = (await self._services(cfg, [name]))[name]
        described = await self._task_definition(cfg, service["taskDefinition"])
        image = f"{cfg.image}:{version}"
        if find_container(described["taskDefinition"], cfg.container).get("image") == image:
            # Already there (a retry after a lost response, or a repeated command):
            # another identical revision would only be clutter; just wait for health.
            deployment_id = primary_deployment_id(service)
        else:
            with _as_backend_errors():
                accepted = await self._aws.input_members(
                    "ecs", cfg.region, "RegisterTaskDefinition"
                )
            params = task_definition_copy(described, accepted, cfg.container, image)
            registered = await self._call(cfg, "ecs", "register_task_definition", **params)
            service = (
                await self._call(
                    cfg,
                    "ecs",
                    "update_service",
                    cluster=cfg.cluster,
                    service=name,
                    taskDefinition=registered["taskDefinition"]["taskDefinitionArn"],
                )
            )["service"]
            # ECS answers UpdateService with the new deployment already PRIMARY (and
            # IN_PROGRESS), so its id is the one to follow. moto 5 differs: a service has
            # one deployment, made at CreateService, whose id, taskDefinition and
            # rolloutState (COMPLETED iff MOTO_ECS_SERVICE_RUNNING >= desiredCount at
            # creation) never change afterwards. Following the id, rather than looking for
            # a deployment of the new task definition, works with both.
            deployment_id = primary_deployment_id(service)
        await self._wait(cfg, service, deployment_id, min(timeout, cfg.rollout_timeout))

    async def _wait(
        self, cfg: AwsTargetConfig, service: dict[str, Any], deployment_id: str, budget: float
    ) -> None:
        name = str(service["serviceName"])
        progress: Progress = rollout_progress(service, deployment_id)
        problem: BackendError | None = None
        try:
            async with asyncio.timeout(budget):
                while not progress.done:
                    await asyncio.sleep(cfg.poll_interval)
                    try:
                        current = (await self._services(cfg, [name]))[name]
                    except TemporaryBackendError as exc:
                        # The rollout carries on whether or not we can watch it; keep
                        # polling until the deadline rather than giving up on a blip.
                        problem = exc
                        continue
                    progress = rollout_progress(current, deployment_id)
        except TimeoutError:
            raise RolloutFailed(
                redact(f"ECS service {name} was not healthy after {budget:g}s ({progress.detail})")
            ) from problem

    async def set_weights(self, target: Target, weights: dict[Colour, int]) -> None:
        cfg = self._config(target)
        check_weights(weights)
        actions = await self._listener_actions(cfg)
        await self._call(
            cfg,
            "elbv2",
            "modify_listener",
            ListenerArn=cfg.listener_arn,
            DefaultActions=with_weights(actions, cfg.target_groups, weights),
        )

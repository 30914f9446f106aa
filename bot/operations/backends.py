"""Choosing the deploy backend for a target from its environment's `backend` setting.

Backends are built once, on first use: the Kubernetes and AWS clients are costly to make
and unneeded by a bot that only uses dryrun. Their per-target settings are the
environment's `kubernetes:` / `aws:` mappings, validated at start so a typo stops the
bot with the key named instead of failing the first release.
"""

from __future__ import annotations

import os

from pydantic import ValidationError

from actions.deploy.aws import AwsBackend, AwsTargetConfig
from actions.deploy.base import Backend, BackendError
from actions.deploy.dryrun import DryRunBackend, DryRunStore
from actions.deploy.kubernetes import KubernetesBackend
from actions.deploy.kubernetes_config import KubernetesTargetConfig
from actions.kube.client import ApiClientFactory, build_api_client
from commands.config import DeployConfig
from commands.targets import Target


class BackendConfigError(ValueError):
    """An environment's backend settings are missing or invalid; the message names it."""


class Backends:
    def __init__(self, config: DeployConfig, dryrun_store: DryRunStore) -> None:
        self._config = config
        self.kubernetes_targets: dict[Target, KubernetesTargetConfig] = {}
        self.aws_targets: dict[Target, AwsTargetConfig] = {}
        for service_name, service in config.services.items():
            for env_name, env in service.environments.items():
                target = Target(service_name, env_name)
                where = f"deploy.services.{service_name}.environments.{env_name}"
                try:
                    if env.backend == "kubernetes":
                        self.kubernetes_targets[target] = KubernetesTargetConfig.model_validate(
                            env.kubernetes or {}
                        )
                    elif env.backend == "aws":
                        self.aws_targets[target] = AwsTargetConfig.model_validate(env.aws or {})
                except ValidationError as exc:
                    raise BackendConfigError(f"{where}.{env.backend}: {exc}") from exc
        self.dryrun = DryRunBackend(dryrun_store, self._initial_version)
        self.kube_api: ApiClientFactory = build_api_client
        """How the Kubernetes client is made; tests point it at the API test server."""
        self.aws_endpoint_url: str | None = os.environ.get("AWS_ENDPOINT_URL") or None
        self._kubernetes: KubernetesBackend | None = None
        self._aws: AwsBackend | None = None

    def _initial_version(self, target: Target) -> str | None:
        service = self._config.services.get(target.service)
        env = service.environments.get(target.environment) if service else None
        return env.initial_version if env else None

    def for_target(self, target: Target) -> Backend:
        service = self._config.services.get(target.service)
        env = service.environments.get(target.environment) if service else None
        if env is None:
            raise BackendError(f"{target.service}/{target.environment} is not configured")
        if env.backend == "kubernetes":
            if self._kubernetes is None:
                self._kubernetes = KubernetesBackend(self.kube_api, self.kubernetes_targets)
            return self._kubernetes
        if env.backend == "aws":
            if self._aws is None:
                self._aws = AwsBackend(self.aws_targets, endpoint_url=self.aws_endpoint_url)
            return self._aws
        return self.dryrun

    async def aclose(self) -> None:
        if self._kubernetes is not None:
            await self._kubernetes.aclose()

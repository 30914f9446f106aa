"""Where one deploy target lives on Kubernetes, as written in the config file.

Checked when the config is loaded, so that a bad name, image or label key is reported
with the file's other errors instead of failing the first deploy.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from actions.kube.client import check_name
from commands.targets import COLOURS, Colour, Target

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

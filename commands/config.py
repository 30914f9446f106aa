"""Config models for operations: who may deploy and approve, services and environments."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.config import CHANNEL_ID
from alerts.durations import Duration
from commands.analysis_config import AnalysisConfig
from commands.freeze_windows import FreezeWindowConfig, overlapping

PRINCIPAL_ID = r"^[UWS][A-Z0-9]{2,}$"


def _check_principals(value: list[str] | None) -> list[str] | None:
    for principal in value or []:
        if not re.fullmatch(PRINCIPAL_ID, principal):
            raise ValueError(f"{principal!r} is not a Slack user (U...) or user group (S...) id")
    return value


class _Strict(BaseModel):
    # Attribute docstrings become field descriptions: the README's config reference is
    # generated from them (bot/config_reference.py).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class EnvironmentConfig(_Strict):
    backend: Literal["dryrun", "kubernetes", "aws"] = "dryrun"
    """Where operations run; dryrun records the plan and keeps its state in the database,
    so a new team can rehearse the whole flow before pointing it at a cluster."""
    approvals: int = Field(default=1, ge=1, le=10)
    """Approving reactions an operation needs (the requester's own never counts)."""
    steps: list[int] = Field(default_factory=lambda: [10, 50, 100])
    """The traffic percentages `/shift` accepts, rising, ending at 100 (the seed's rollout)."""
    bake: Duration = timedelta(minutes=5)
    """After each shift, how long a P0/P1 alert for the service rolls it back."""
    bake_policy: Literal["auto", "propose"] = "auto"
    """`auto` rolls back at once; `propose` posts a one-click rollback request instead."""
    analysis: AnalysisConfig | None = None
    """PromQL checks run against Prometheus (`PROMETHEUS_URL`) during each bake; a breach
    beyond the failure limit ends the bake like a P0/P1 alert does (`bake_policy`). Unset:
    the bake watches alerts only."""
    health_url: str | None = None
    """Checked after a deploy and after each shift; a failure rolls the change back."""
    health_expect_status: int = Field(default=200, ge=100, le=599)
    """The status the health URL must answer with."""
    health_timeout: Duration = timedelta(seconds=5)
    """How long the health URL may take to answer; a slow answer counts as unhealthy."""
    kubernetes: dict[str, Any] | None = None
    """Target for the kubernetes backend: namespace, image, route or service, ... (validated
    at start against the backend's own model)."""
    aws: dict[str, Any] | None = None
    """Target for the aws backend: region, cluster, services, listener_arn, target_groups, ..."""
    rollout_timeout: Duration = timedelta(minutes=10)
    """How long a rollout may take before it counts as failed; 10m is Kubernetes' own
    default progress deadline, so a rollout the cluster still considers healthy is not cut
    short by the bot."""
    deployers: list[str] | None = None
    """Who may request operations here, replacing `deploy.deployers` for this environment
    (e.g. anyone may deploy to staging, a smaller group to production)."""
    approvers: list[str] | None = None
    """Who may approve here, replacing `deploy.approvers` for this environment."""
    initial_version: str | None = None
    """dryrun backend only: the version blue runs before any deploy (default v0.0.0)."""

    _principals = field_validator("deployers", "approvers")(_check_principals)

    @model_validator(mode="after")
    def _analysis_needs_a_bake(self) -> EnvironmentConfig:
        if self.analysis is None:
            return self
        if self.bake.total_seconds() <= 0:
            raise ValueError("analysis runs during the bake: set bake above 0s")
        if self.analysis.interval > self.bake:
            raise ValueError("analysis.interval is longer than the bake: no check would run")
        return self

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[int]) -> list[int]:
        if not value or value != sorted(set(value)) or value[-1] != 100 or value[0] <= 0:
            raise ValueError("steps must rise strictly, start above 0 and end at 100")
        return value


class ServiceConfig(_Strict):
    channel: str = Field(pattern=CHANNEL_ID)
    """Where its approval requests go; commands typed here default to this service."""
    version_pattern: str = r"^v?\d+\.\d+\.\d+$"
    """A version must match it in full before anything else happens (no shell, ever)."""
    environments: dict[str, EnvironmentConfig] = Field(min_length=1)
    """Environment name -> how operations run there."""
    default_environment: str | None = None
    """The environment a command means when it names none and the service has several.
    Unset means "name it": a production change should not happen by omission."""
    pagerduty_routing_key: str | None = Field(default=None, min_length=32, max_length=32)
    """The integration key of the PagerDuty service this service is, for its change events
    (every deploy, shift and rollback, shown as "recent changes" on its incidents); unset:
    PAGERDUTY_ROUTING_KEY, and with neither no change events are sent."""

    @model_validator(mode="after")
    def _default_environment_exists(self) -> ServiceConfig:
        if self.default_environment and self.default_environment not in self.environments:
            known = ", ".join(sorted(self.environments))
            raise ValueError(
                f"default_environment {self.default_environment!r} is not one of: {known}"
            )
        return self

    @field_validator("version_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression ({exc})") from exc
        return value


class DeployConfig(_Strict):
    request_ttl: Duration = timedelta(minutes=15)
    """An approval request expires after this; nothing counts afterwards."""
    approve_reactions: list[str] = Field(
        default_factory=lambda: ["white_check_mark", "heavy_check_mark"]
    )
    """Reaction names that approve."""
    reject_reactions: list[str] = Field(default_factory=lambda: ["x"])
    """Reaction names that reject; one authorised rejection ends the request."""
    deployers: list[str] = Field(default_factory=list)
    """Who may request operations: user ids (U...) or user-group ids (S...). Empty: nobody."""
    approvers: list[str] = Field(default_factory=list)
    """Who may approve them, in the same form. Empty: nobody."""
    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    """Service name -> its channel, version rule and environments."""
    force_extra_approvals: int = Field(default=1, ge=1, le=5)
    """`--force` skips the "no P0/P1 alert firing" re-check, so it needs this many more
    approvals than usual: one more person must agree that shipping during an incident is
    the lesser risk."""
    freezes: list[FreezeWindowConfig] = Field(default_factory=list)
    """Freeze windows: while one is in force for a service and environment, /deploy and
    /shift there are refused when asked (like a firing P0/P1; `--force` with
    `force_extra_approvals` more approvals) and re-checked before an approved one runs.
    /rollback is never frozen."""
    commands_per_minute: int = Field(default=100, ge=1)
    """Per-user limit on slash commands (the seed's figure); it stops a script or a stuck
    key from flooding the channel with approval requests, not a person typing."""
    clicks_per_minute: int = Field(default=60, ge=1)
    """Per-user limit on clicks of any of the bot's buttons (alerts, storms, runbooks,
    PagerDuty, requests), counted in the database like the command limit: a person clicks
    a few times a minute at most, so 60 only stops a script hammering a button (each
    click reads Alertmanager, pages or posts); past it, the click does nothing and the
    clicker is told to slow down."""

    _principals = field_validator("deployers", "approvers")(_check_principals)

    @model_validator(mode="after")
    def _freezes_name_known_targets(self) -> DeployConfig:
        problems = []
        environments = {e for s in self.services.values() for e in s.environments}
        for i, window in enumerate(self.freezes):
            for service in window.services:
                if service not in self.services:
                    known = ", ".join(sorted(self.services)) or "none configured"
                    problems.append(
                        f"deploy.freezes.{i}.services: unknown service {service!r} (known: {known})"
                    )
            for environment in window.environments:
                if environment not in environments:
                    problems.append(
                        f"deploy.freezes.{i}.environments: no service has an environment "
                        f"{environment!r}"
                    )
        for i, j in overlapping(self.freezes):
            problems.append(
                f"deploy.freezes.{i} ({self.freezes[i].name}) and deploy.freezes.{j} "
                f"({self.freezes[j].name}) overlap for the same services"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _reactions_disjoint(self) -> DeployConfig:
        both = set(self.approve_reactions) & set(self.reject_reactions)
        if both:
            raise ValueError(f"reactions both approve and reject: {', '.join(sorted(both))}")
        return self

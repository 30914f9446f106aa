"""Config models for operations: who may deploy and approve, services and environments."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.config import CHANNEL_ID
from alerts.durations import Duration

PRINCIPAL_ID = r"^[UWS][A-Z0-9]{2,}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvironmentConfig(_Strict):
    backend: Literal["dryrun", "kubernetes", "aws"] = "dryrun"
    approvals: int = Field(default=1, ge=1, le=10)
    steps: list[int] = Field(default_factory=lambda: [10, 50, 100])
    bake: Duration = timedelta(minutes=5)
    bake_policy: Literal["auto", "propose"] = "auto"
    health_url: str | None = None
    kubernetes: dict[str, Any] | None = None
    aws: dict[str, Any] | None = None

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: list[int]) -> list[int]:
        if not value or value != sorted(set(value)) or value[-1] != 100 or value[0] <= 0:
            raise ValueError("steps must rise strictly, start above 0 and end at 100")
        return value


class ServiceConfig(_Strict):
    channel: str = Field(pattern=CHANNEL_ID)
    version_pattern: str = r"^v?\d+\.\d+\.\d+$"
    environments: dict[str, EnvironmentConfig] = Field(min_length=1)

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
    approve_reactions: list[str] = Field(
        default_factory=lambda: ["white_check_mark", "heavy_check_mark"]
    )
    reject_reactions: list[str] = Field(default_factory=lambda: ["x"])
    deployers: list[str] = Field(default_factory=list)
    approvers: list[str] = Field(default_factory=list)
    services: dict[str, ServiceConfig] = Field(default_factory=dict)

    @field_validator("deployers", "approvers")
    @classmethod
    def _principals(cls, value: list[str]) -> list[str]:
        for principal in value:
            if not re.fullmatch(PRINCIPAL_ID, principal):
                raise ValueError(f"{principal!r} is not a Slack user (U...) or user group (S...) id")
        return value

    @model_validator(mode="after")
    def _reactions_disjoint(self) -> DeployConfig:
        both = set(self.approve_reactions) & set(self.reject_reactions)
        if both:
            raise ValueError(f"reactions both approve and reject: {', '.join(sorted(both))}")
        return self

"""Alertmanager's webhook payload (version 4), parsed into typed models at the edge.

Unknown keys are ignored on purpose: newer Alertmanagers add fields, and a bot that
rejects them would stop paging people after an Alertmanager upgrade.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Status = Literal["firing", "resolved"]
MAX_LABEL_VALUE = 4096


class PayloadError(ValueError):
    """The body is not an Alertmanager notification; the message names the field at fault."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def _as_str_map(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be an object of strings")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str):
            raise ValueError(f"{key}: must be a string")
        out[str(key)] = item[:MAX_LABEL_VALUE]
    return out


class AlertmanagerAlert(_Lenient):
    status: Status
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""

    _maps = field_validator("labels", "annotations", mode="before")(_as_str_map)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # Alertmanager sends the zero time ("0001-01-01T00:00:00Z") for "not ended".
        return None if value.year <= 1 else value

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def key(self) -> str:
        """The alert's identity: Alertmanager's fingerprint, or a hash of its labels."""
        if self.fingerprint:
            return self.fingerprint
        canonical = json.dumps(self.labels, sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:16]


class AlertmanagerNotification(_Lenient):
    version: str
    group_key: str = Field(alias="groupKey", min_length=1, max_length=1024)
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
    status: Status
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[AlertmanagerAlert]

    _maps = field_validator("group_labels", "common_labels", "common_annotations", mode="before")(
        _as_str_map
    )

    @field_validator("version")
    @classmethod
    def _v4(cls, value: str) -> str:
        if value != "4":
            raise ValueError(f"version {value!r} is not supported; Alertmanager sends version 4")
        return value

    def digest(self) -> str:
        """What makes two deliveries "the same notification" for redelivery purposes.

        Alertmanager re-sends a group on every repeat_interval and after failed attempts;
        only a change in an alert's status or start time is news worth a Slack update.
        """
        states = sorted((a.key, a.status, a.starts_at.isoformat()) for a in self.alerts)
        raw = json.dumps([self.status, states, self.truncated_alerts]).encode()
        return hashlib.sha256(raw).hexdigest()


def parse_notification(body: bytes | str | dict[str, object]) -> AlertmanagerNotification:
    """Parse and validate a webhook body; raises PayloadError naming the bad field."""
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError("body is not valid JSON") from exc
    else:
        data = body
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object (an Alertmanager webhook notification)")
    try:
        return AlertmanagerNotification.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        message = str(first["msg"]).removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise PayloadError(f"{field}: {message}{more}") from exc

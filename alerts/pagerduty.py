"""PagerDuty v3 webhook payloads, validated into typed models (no I/O here).

PagerDuty tells us when an incident changes (someone acknowledged it on their phone, the
escalation policy moved on to the next responder, it was reassigned or resolved); the
bot routes these into the service's channel and syncs acknowledgements back onto the
alert group. Validation happens at the edge so that the routing code can rely on the
fields it reads, and so that a bad payload is answered with a message naming the field.

The envelope is documented as `{"event": {id, event_type, resource_type, occurred_at,
agent, client, data}}`, where `data` depends on the event type. For the incident event
types it is the incident itself (`data.type == "incident"`), which we lift into
`PagerDutyWebhook.incident`; any other event keeps its raw `data`. `event_type` stays a
string, because PagerDuty adds event types over time and an unknown one must be
acknowledged and ignored, not rejected. Unknown keys are ignored for the same reason.

For `incident.escalated` and `incident.reassigned`, PagerDuty documents no extra fields:
the incident's `assignees` are the new responders, `escalation_policy` the policy in
force, and `event.agent` who or what made the change (a user for a manual reassignment).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.json_bodies import JsonBodyError, load_json

ROUTED_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "incident.triggered",
        "incident.acknowledged",
        "incident.unacknowledged",
        "incident.escalated",
        "incident.reassigned",
        "incident.resolved",
    }
)
# Every documented event type whose `data` is an incident, routed by us or not.
INCIDENT_EVENT_TYPES: frozenset[str] = ROUTED_EVENT_TYPES | {
    "incident.delegated",
    "incident.priority_updated",
    "incident.reopened",
}

IncidentStatus = Literal["triggered", "acknowledged", "resolved"]
Urgency = Literal["high", "low"]


def is_routed(event_type: str) -> bool:
    """Whether the bot acts on this event type; every other type is acknowledged and dropped."""
    return event_type in ROUTED_EVENT_TYPES


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Reference(_Model):
    """PagerDuty's `*_reference` objects: a user, service, team, escalation policy..."""

    id: str
    type: str | None = None
    summary: str | None = None
    self_url: str | None = Field(default=None, alias="self")
    html_url: str | None = None


class Priority(_Model):
    """The incident's priority as the account names it (e.g. "P1"); accounts may have none."""

    summary: str
    id: str | None = None
    html_url: str | None = None


class ConferenceBridge(_Model):
    conference_number: str | None = None
    conference_url: str | None = None


class WebhookClient(_Model):
    """Where the event was triggered, e.g. {"name": "PagerDuty"}."""

    name: str | None = None


class IncidentData(_Model):
    """`event.data` for the incident event types."""

    id: str
    type: Literal["incident"]
    self_url: str | None = Field(default=None, alias="self")
    html_url: str
    number: int
    status: IncidentStatus
    incident_key: str | None = None
    title: str
    urgency: Urgency
    created_at: datetime
    service: Reference
    assignees: tuple[Reference, ...] = ()
    escalation_policy: Reference | None = None
    teams: tuple[Reference, ...] = ()
    priority: Priority | None = None
    conference_bridge: ConferenceBridge | None = None
    # Documented as null, or an object saying why (e.g. merged into another incident).
    resolve_reason: dict[str, Any] | None = None


class WebhookEvent(_Model):
    id: str
    event_type: str
    resource_type: str
    occurred_at: datetime
    agent: Reference | None = None
    client: WebhookClient | None = None
    data: dict[str, Any]


class PagerDutyWebhook(_Model):
    """One v3 webhook delivery (PagerDuty never batches v3 events)."""

    event: WebhookEvent
    incident: IncidentData | None = None

    @model_validator(mode="before")
    @classmethod
    def _lift_incident(cls, value: Any) -> Any:
        # Only raw JSON is rewritten: the incident always comes from event.data, so a
        # top-level "incident" key in a payload is never trusted.
        if not isinstance(value, Mapping) or not isinstance(value.get("event"), Mapping):
            return value
        event = value["event"]
        data = event.get("data")
        lifted = event.get("event_type") in INCIDENT_EVENT_TYPES and isinstance(data, Mapping)
        return {"event": event, "incident": data if lifted else None}

    @property
    def routed(self) -> bool:
        return is_routed(self.event.event_type)


class WebhookPayloadError(ValueError):
    """The body is not a valid v3 webhook; `fields` names each offending field path."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


def parse_webhook(body: bytes) -> PagerDutyWebhook:
    """Validate a raw webhook body; raise `WebhookPayloadError` (a ValueError) naming the field.

    The body must be the raw bytes that were signed; verify the signature first.
    """
    try:
        raw = load_json(body)
    except JsonBodyError as exc:
        raise WebhookPayloadError(f"PagerDuty webhook: {exc}") from None
    if not isinstance(raw, dict):
        raise WebhookPayloadError("PagerDuty webhook body must be a JSON object")
    try:
        return PagerDutyWebhook.model_validate(raw)
    except ValidationError as exc:
        problems = [(_path(error["loc"]), error["msg"]) for error in exc.errors()]
        fields = tuple(dict.fromkeys(path for path, _ in problems))
        text = "; ".join(f"{path}: {msg}" for path, msg in problems)
        raise WebhookPayloadError(f"invalid PagerDuty webhook: {text}", fields) from None


def _path(loc: tuple[int | str, ...]) -> str:
    """`("incident", "assignees", 0, "id")` -> `event.data.assignees[0].id`."""
    parts: list[int | str] = list(loc)
    # `incident` is lifted out of event.data: name the field where PagerDuty sent it.
    if parts[:1] == ["incident"]:
        parts[:1] = ["event", "data"]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "body"

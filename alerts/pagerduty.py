"""PagerDuty v3 webhook payloads, read tolerantly into typed models (no I/O here).

PagerDuty tells us when an incident changes (acknowledged on a phone, unacknowledged
when the acknowledgement timed out, reassigned, delegated, resolved, reopened, a note
added); the bot reflects each change on the Slack message and, for incidents that are
our own pages, on the alert group and its escalation.

PagerDuty disables a webhook subscription after three 4xx answers in a row, so a 4xx
loses every later event too. The reader therefore checks only what the bot acts on:
the envelope's `event.id` and `event.event_type`, and the incident's id (in `event.data`
for the incident event types, in `event.data.incident` for notes, responders, status
updates and conference bridges). Every other field is read when it has the expected
shape and ignored (taken as absent) when it does not: real deliveries from 2021 carry no
`data.created_at`, some send a `conference_bridge.conference_number` that is not a
string, and PagerDuty adds fields, enum values and event types over time. An unknown
event type parses with its raw `data`, so it can be acknowledged and counted.

The envelope is documented as `{"event": {id, event_type, resource_type, occurred_at,
agent, client, data}}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from alerts.json_bodies import JsonBodyError, load_json

# `event.data` is the incident itself (`data.type == "incident"`).
INCIDENT_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "incident.triggered",
        "incident.acknowledged",
        "incident.unacknowledged",
        "incident.resolved",
        "incident.reopened",
        "incident.reassigned",
        "incident.delegated",
        "incident.escalated",
        "incident.priority_updated",
        "incident.service_updated",
    }
)
# `event.data` is about an incident and names it in `data.incident`.
ACTIVITY_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "incident.annotated",
        "incident.responder.added",
        "incident.responder.replied",
        "incident.status_update_published",
        "incident.conference_bridge.updated",
    }
)
ROUTED_EVENT_TYPES: frozenset[str] = INCIDENT_EVENT_TYPES | ACTIVITY_EVENT_TYPES
# Documented types the bot has no use for: acknowledged, not counted as unknown.
UNUSED_EVENT_TYPES: frozenset[str] = frozenset(
    {"service.created", "service.updated", "service.deleted", "pagey.ping"}
)
INCIDENT_STATUSES = ("triggered", "acknowledged", "resolved")
# What the incident's status is after an event, when the payload's status is unusable.
STATUS_AFTER: dict[str, str] = {
    "incident.triggered": "triggered",
    "incident.acknowledged": "acknowledged",
    "incident.unacknowledged": "triggered",
    "incident.resolved": "resolved",
    "incident.reopened": "triggered",
}


def is_routed(event_type: str) -> bool:
    """Whether the bot acts on this event type; every other type is acknowledged and dropped."""
    return event_type in ROUTED_EVENT_TYPES


def is_unknown(event_type: str) -> bool:
    """Neither acted on nor one of the documented types the bot has no use for."""
    return not is_routed(event_type) and event_type not in UNUSED_EVENT_TYPES


def _text_or_none(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _int_or_zero(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return 0


def _time_or_none(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _object_or_none(value: Any) -> Any:
    return value if isinstance(value, Mapping) else None


def _objects(value: Any) -> tuple[Any, ...]:
    """The object entries of a list; anything else reads as an empty list."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item for item in value if isinstance(item, Mapping))


Text = Annotated[str | None, BeforeValidator(_text_or_none)]
Number = Annotated[int, BeforeValidator(_int_or_zero)]
Moment = Annotated[datetime | None, BeforeValidator(_time_or_none)]


class PagerDutyModel(BaseModel):
    """Every PagerDuty shape the bot reads, from webhooks and from the REST API alike:
    PagerDuty adds fields over time, so only what the bot reads is declared."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Reference(PagerDutyModel):
    """PagerDuty's `*_reference` objects: a user, service, team, escalation policy..."""

    id: Text = None
    type: Text = None
    summary: Text = None
    self_url: Text = Field(default=None, alias="self")
    html_url: Text = None

    @property
    def name(self) -> str:
        return self.summary or self.id or ""


OptionalReference = Annotated[Reference | None, BeforeValidator(_object_or_none)]
References = Annotated[tuple[Reference, ...], BeforeValidator(_objects)]


class IncidentRef(PagerDutyModel):
    """The incident an event is about: its id is what the bot needs to find it."""

    id: str = Field(min_length=1)
    summary: Text = None
    html_url: Text = None


class IncidentData(PagerDutyModel):
    """`event.data` for the incident event types; only `id` is required."""

    id: str = Field(min_length=1)
    type: Text = None
    self_url: Text = Field(default=None, alias="self")
    html_url: Text = None
    number: Number = 0
    status: Text = None
    incident_key: Text = None
    title: Text = None
    urgency: Text = None
    created_at: Moment = None
    service: OptionalReference = None
    assignees: References = ()
    escalation_policy: OptionalReference = None
    teams: References = ()
    priority: OptionalReference = None

    def status_after(self, event_type: str) -> str | None:
        """The status to show: the payload's when PagerDuty documents it, else implied."""
        if self.status in INCIDENT_STATUSES:
            return self.status
        return STATUS_AFTER.get(event_type)

    @property
    def assignee_names(self) -> str:
        return ", ".join(a.name for a in self.assignees if a.name)


class IncidentActivity(PagerDutyModel):
    """`event.data` for notes, responder requests, status updates and conference bridges."""

    incident: IncidentRef
    id: Text = None
    type: Text = None
    content: Text = None  # incident_note
    message: Text = None  # incident_status_update, incident_responder
    state: Text = None  # incident_responder: pending, joined, declined...
    user: OptionalReference = None  # incident_responder: who was asked
    requester: OptionalReference = None
    escalation_policy: OptionalReference = None
    conference_url: Text = None
    conference_number: Text = None
    conference_numbers: Annotated[tuple[dict[str, Any], ...], BeforeValidator(_objects)] = ()

    @property
    def numbers(self) -> list[str]:
        found = [_text_or_none(entry.get("number")) for entry in self.conference_numbers]
        if self.conference_number:
            found.append(self.conference_number)
        return [number for number in found if number]


class WebhookClient(PagerDutyModel):
    """Where the event was triggered, e.g. {"name": "PagerDuty"}."""

    name: Text = None


class WebhookEvent(PagerDutyModel):
    id: str = Field(min_length=1)
    event_type: str = Field(min_length=1)
    resource_type: Text = None
    occurred_at: Moment = None
    agent: OptionalReference = None
    client: Annotated[WebhookClient | None, BeforeValidator(_object_or_none)] = None
    data: Any = None


class PagerDutyWebhook(PagerDutyModel):
    """One v3 webhook delivery (PagerDuty never batches v3 events)."""

    event: WebhookEvent
    incident: IncidentData | None = None
    activity: IncidentActivity | None = None

    @property
    def routed(self) -> bool:
        return is_routed(self.event.event_type)

    @property
    def incident_id(self) -> str | None:
        if self.incident is not None:
            return self.incident.id
        return self.activity.incident.id if self.activity is not None else None

    @property
    def agent_name(self) -> str | None:
        agent = self.event.agent
        return agent.name or None if agent is not None else None


class WebhookPayloadError(ValueError):
    """The body is not a usable v3 webhook; `fields` names each offending field path."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


def parse_webhook(body: bytes) -> PagerDutyWebhook:
    """Read a raw webhook body; raise `WebhookPayloadError` naming every unusable field.

    The body must be the raw bytes that were signed; verify the signature first.
    """
    try:
        raw = load_json(body)
    except JsonBodyError as exc:
        raise WebhookPayloadError(f"PagerDuty webhook: {exc}") from None
    if not isinstance(raw, dict):
        raise WebhookPayloadError("PagerDuty webhook body must be a JSON object")
    problems: list[tuple[str, str]] = []
    event = _validate(WebhookEvent, raw.get("event"), "event", problems)
    incident: IncidentData | None = None
    activity: IncidentActivity | None = None
    event_type = event.event_type if event is not None else _raw_event_type(raw)
    data = raw["event"].get("data") if isinstance(raw.get("event"), Mapping) else None
    if event_type in INCIDENT_EVENT_TYPES:
        incident = _validate(IncidentData, data, "event.data", problems)
        if incident is not None and incident.type not in (None, "incident"):
            problems.append(("event.data.type", f"'{incident.type}' is not an incident"))
    elif event_type in ACTIVITY_EVENT_TYPES:
        activity = _validate(IncidentActivity, data, "event.data", problems)
    if problems or event is None:
        fields = tuple(dict.fromkeys(path for path, _ in problems))
        text = "; ".join(f"{path}: {msg}" for path, msg in problems)
        raise WebhookPayloadError(f"invalid PagerDuty webhook: {text}", fields)
    return PagerDutyWebhook(event=event, incident=incident, activity=activity)


M = TypeVar("M", bound=PagerDutyModel)


def _raw_event_type(raw: Mapping[str, Any]) -> str | None:
    event = raw.get("event")
    return event.get("event_type") if isinstance(event, Mapping) else None


def _validate(model: type[M], value: Any, where: str, problems: list[tuple[str, str]]) -> M | None:
    if not isinstance(value, Mapping):
        problems.append((where, "must be a JSON object"))
        return None
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems.extend((_path(where, error["loc"]), error["msg"]) for error in exc.errors())
        return None


def _path(where: str, loc: tuple[int | str, ...]) -> str:
    """`("event.data", ("incident", "id"))` -> `event.data.incident.id`."""
    text = where
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text

"""A local PagerDuty for the sandbox, so that a P0 visibly pages someone.

Without it a sandbox P0 has nowhere to page and the thread says "Nobody was paged":
escalation, the heart of the product, cannot be seen. This stand-in keeps to the
documented contracts the bot uses against the real service:

- Events API v2 in: `POST /pagerduty/v2/enqueue` (routing key of 32 characters;
  trigger opens or deduplicates an incident by dedup_key, acknowledge and resolve change
  it; events for unknown or resolved incidents are accepted and dropped, as PagerDuty does).
- REST API v2, the part the bot calls (`bot.sandbox.pagerduty_rest`): the Acknowledge and
  Resolve buttons on the bot's PagerDuty messages update the incident as the person who
  clicked.
- The sandbox page's PagerDuty panel (`bot.sandbox.pagerduty_panel`): acknowledge and
  resolve as the chosen user, or open an incident by hand as someone would in PagerDuty's
  web app (one the bot did not page, which it shows in its own message).
- Webhooks v3 back to the bot for every incident change, signed with `X-PagerDuty-Signature:
  v1=<hex HMAC-SHA256 of the body>`, delivered one at a time in order.

Every change, whichever of those doors it came through, goes through `change`, so the
panel, the REST API and the webhooks never disagree about an incident.

The people of this PagerDuty account are the sandbox workspace's people, with the same
names and email addresses: `pagerduty.users` in the config maps Slack users to them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox.pagerduty_oncall import OnCallData

log = logging.getLogger(__name__)

ROUTING_KEY_LENGTH = 32
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
SERVICE_ID = "PSERVC1"
SERVICE = {"id": SERVICE_ID, "type": "service_reference", "summary": "Sandbox"}
ESCALATION_POLICY = {"id": "PESCAL1", "type": "escalation_policy_reference", "summary": "On-call"}
# Who the sandbox's escalation policy notifies first: the on-call engineer of the workspace
# (Slack's U0000ONC01, so the same id as `Person.of` gives that user).
ON_CALL = {"id": "P0000ONC01", "type": "user_reference", "summary": "Olu Oncall"}
INTEGRATION = "the integration (the bot)"

Reference = dict[str, Any]


@dataclass(frozen=True)
class Person:
    """A user of the sandbox's PagerDuty account."""

    id: str
    name: str
    email: str

    @classmethod
    def of(cls, slack_id: str, real_name: str, email: str) -> Person:
        # Slack's U... id with PagerDuty's P in front: the same person, recognisably.
        return cls("P" + slack_id[1:], real_name, email)

    def reference(self) -> Reference:
        return {"id": self.id, "type": "user_reference", "summary": self.name}


@dataclass
class LogEntry:
    at: str
    text: str


@dataclass
class Incident:
    id: str
    number: int
    dedup_key: str
    title: str
    urgency: str
    created_at: str
    status: str = "triggered"
    log: list[LogEntry] = field(default_factory=list)
    # Who changed the status last, and when (REST's last_status_change_*).
    changed_at: str = ""
    changed_by: Reference = field(default_factory=lambda: dict(SERVICE))
    acknowledgements: list[tuple[str, Reference]] = field(default_factory=list)

    def to_view(self) -> dict[str, Any]:
        """What the sandbox page shows."""
        return {
            "id": self.id,
            "number": self.number,
            "title": self.title,
            "status": self.status,
            "urgency": self.urgency,
            "dedup_key": self.dedup_key,
            "created_at": self.created_at,
            "assignee": ON_CALL["summary"],
            "log": [{"at": e.at, "text": e.text} for e in self.log],
        }


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_errors(event: Any) -> list[str]:
    """What the Events API lists in `errors` for an event it refuses."""
    if not isinstance(event, dict):
        return ["Event object is invalid"]
    errors: list[str] = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != ROUTING_KEY_LENGTH:
        errors.append(f"'routing_key' must be a {ROUTING_KEY_LENGTH} character string")
    action = event.get("event_action")
    if action not in EVENT_ACTIONS:
        errors.append("'event_action' is invalid (must be trigger, acknowledge or resolve)")
    dedup = event.get("dedup_key")
    if action in ("acknowledge", "resolve") and not isinstance(dedup, str):
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            for name in ("summary", "source"):
                if not isinstance(payload.get(name), str) or not payload.get(name):
                    errors.append(f"'payload.{name}' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' must be critical, error, warning or info")
    return errors


class PagerDutyEmulator:
    def __init__(
        self,
        page_url: Callable[[], str],
        on_change: Callable[[], None],
        people: Callable[[], Iterable[Person]] = tuple,
    ) -> None:
        self.incidents: list[Incident] = []
        # Where webhooks go (the bot's /webhooks/pagerduty) and the secret they are signed with.
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_answers: list[int] = []
        # The REST API token the bot must send; None: the REST API refuses every request.
        self.api_token: str | None = None
        # When set (sandbox mode), the Events API takes only events with this routing key.
        self.routing_key: str | None = None
        # Users, schedules, the escalation policy and /oncalls (bot/sandbox/pagerduty_oncall.py).
        self.oncall = OnCallData()
        self._page_url = page_url
        self._on_change = on_change
        self._people = people
        self._outgoing: asyncio.Queue[bytes] | None = None
        self.changes: list[str] = []  # change event summaries, newest first
        self._sender: asyncio.Task[None] | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/pagerduty/v2/enqueue", self._enqueue)
        app.router.add_post("/pagerduty/v2/change/enqueue", self._change_event)

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
            self._sender = None

    # -- state ----------------------------------------------------------------------

    def find(self, incident_id: str) -> Incident | None:
        return next((i for i in self.incidents if i.id == incident_id), None)

    def people(self) -> list[Person]:
        return list(self._people())

    def person(self, *, email: str | None = None, id: str | None = None) -> Person | None:
        for person in self._people():
            if email is not None and person.email.lower() == email.strip().lower():
                return person
            if id is not None and person.id == id:
                return person
        return None

    def html_url(self, incident: Incident) -> str:
        return f"{self._page_url()}#pagerduty-{incident.id}"

    @property
    def root_url(self) -> str:
        return self._page_url()

    def _open_by_key(self, dedup_key: str) -> Incident | None:
        return next(
            (i for i in self.incidents if i.dedup_key == dedup_key and i.status != "resolved"),
            None,
        )

    def open(
        self, title: str, urgency: str, *, dedup_key: str | None = None, by: Person | None = None
    ) -> Incident:
        """A new triggered incident, notified to the on-call engineer."""
        incident = Incident(
            id="Q" + uuid.uuid4().hex[:12].upper(),
            number=len(self.incidents) + 1,
            dedup_key=dedup_key or uuid.uuid4().hex,
            title=title[:1024],
            urgency=urgency,
            created_at=now_text(),
        )
        incident.changed_at = incident.created_at
        opened = "Triggered" if by is None else f"Opened by {by.name}"
        incident.log.append(
            LogEntry(incident.created_at, f"{opened}; notified {ON_CALL['summary']}")
        )
        self.incidents.append(incident)
        self._on_change()
        self._send("incident.triggered", incident, agent=None if by is None else by.reference())
        return incident

    def change(self, incident: Incident, status: str, by: Person | None, *, via: str = "") -> bool:
        """Acknowledge or resolve; False when that changes nothing (or it is resolved)."""
        if incident.status == status or incident.status == "resolved":
            return False
        at = now_text()
        incident.status = status
        incident.changed_at = at
        incident.changed_by = dict(SERVICE) if by is None else by.reference()
        if status == "acknowledged" and by is not None:
            incident.acknowledgements.append((at, by.reference()))
        who = INTEGRATION if by is None else by.name
        incident.log.append(LogEntry(at, f"{status.capitalize()} by {who}{via}"))
        self._on_change()
        self._send(f"incident.{status}", incident, agent=None if by is None else by.reference())
        return True

    # -- Events API v2 --------------------------------------------------------------

    async def _change_event(self, request: web.Request) -> web.Response:
        """Change events are kept as "recent changes", newest first, as PagerDuty lists
        them beside a service's incidents."""
        try:
            event: Any = await request.json()
        except ValueError:
            event = None
        payload = event.get("payload") if isinstance(event, dict) else None
        if not isinstance(payload, dict) or not isinstance(payload.get("summary"), str):
            body = {"status": "invalid event", "message": "Event object is invalid"}
            return web.json_response(
                {**body, "errors": ["'payload.summary' is required"]}, status=400
            )
        self.changes.insert(0, str(payload["summary"])[:1024])
        del self.changes[50:]
        self._on_change()
        return web.json_response(
            {"status": "success", "message": "Change event processed"}, status=202
        )

    async def _enqueue(self, request: web.Request) -> web.Response:
        try:
            event: Any = await request.json()
        except ValueError:
            event = None
        errors = _event_errors(event)
        if not errors and self.routing_key is not None:
            given = str(event.get("routing_key", "")).encode()
            if not hmac.compare_digest(given, self.routing_key.encode()):
                errors = ["Invalid routing key"]
        if errors:
            body = {"status": "invalid event", "message": "Event object is invalid"}
            return web.json_response({**body, "errors": errors}, status=400)
        action = str(event["event_action"])
        dedup_key = str(event.get("dedup_key") or uuid.uuid4().hex)
        incident = self._open_by_key(dedup_key)
        if action == "trigger" and incident is not None:
            incident.log.append(LogEntry(now_text(), "Triggered again (deduplicated)"))
            self._on_change()
        elif action == "trigger":
            payload = event["payload"]
            urgency = "high" if payload["severity"] in ("critical", "error") else "low"
            self.open(str(payload["summary"]), urgency, dedup_key=dedup_key)
        elif incident is not None:
            status = "acknowledged" if action == "acknowledge" else "resolved"
            self.change(incident, status, None)
        body = {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
        return web.json_response(body, status=202)

    # -- webhooks v3 back to the bot ------------------------------------------------

    def _send(self, event_type: str, incident: Incident, *, agent: Reference | None) -> None:
        if self.webhook_url is None or not self.webhook_secret:
            return
        envelope = {
            "event": {
                "id": uuid.uuid4().hex,
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": now_text(),
                "agent": agent,
                "client": None,
                "data": self._incident_data(incident),
            }
        }
        if self._outgoing is None:
            self._outgoing = asyncio.Queue()
            self._sender = asyncio.create_task(self._deliver())
        self._outgoing.put_nowait(json.dumps(envelope).encode())

    def _incident_data(self, incident: Incident) -> dict[str, Any]:
        return {
            "id": incident.id,
            "type": "incident",
            "html_url": self.html_url(incident),
            "number": incident.number,
            "status": incident.status,
            "incident_key": incident.dedup_key,
            "title": incident.title,
            "urgency": incident.urgency,
            "created_at": incident.created_at,
            "service": SERVICE,
            "assignees": [ON_CALL],
            "escalation_policy": ESCALATION_POLICY,
        }

    async def _deliver(self) -> None:
        assert self._outgoing is not None
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                body = await self._outgoing.get()
                await self._post(session, body)

    async def _post(self, session: aiohttp.ClientSession, body: bytes) -> None:
        assert self.webhook_url is not None and self.webhook_secret is not None
        digest = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PagerDuty-Webhook/V3.0",
            "X-PagerDuty-Signature": f"v1={digest}",
            "X-Webhook-Id": str(uuid.uuid4()),
        }
        try:
            async with session.post(self.webhook_url, data=body, headers=headers) as response:
                self.webhook_answers.append(response.status)
                if response.status >= 300:
                    log.warning("the bot answered %d to a PagerDuty webhook", response.status)
        except aiohttp.ClientError as exc:
            # PagerDuty would retry; the sandbox says so once and moves on.
            log.warning("PagerDuty webhook not delivered: %s", exc)

"""A local PagerDuty for the sandbox, so that a P0 visibly pages someone.

Without it a sandbox P0 has nowhere to page and the thread says "Nobody was paged":
escalation, the heart of the product, cannot be seen. This stand-in keeps to the
documented contracts the bot uses against the real service:

- Events API v2 in: `POST /pagerduty/v2/enqueue` (routing key of 32 characters;
  trigger opens or deduplicates an incident by dedup_key, acknowledge and resolve change
  it; events for unknown or resolved incidents are accepted and dropped, as PagerDuty does).
- Incidents people act on from the sandbox page: acknowledge and resolve as a named user.
- Webhooks v3 back to the bot for every incident change, signed with `X-PagerDuty-Signature:
  v1=<hex HMAC-SHA256 of the body>`, delivered one at a time in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

ROUTING_KEY_LENGTH = 32
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
SERVICE_ID = "PSERVC1"
ESCALATION_POLICY = {"id": "PESCAL1", "type": "escalation_policy_reference", "summary": "On-call"}
# Who the sandbox's escalation policy notifies first: the on-call engineer of the workspace.
ON_CALL = {"id": "PUSER01", "type": "user_reference", "summary": "Olu Oncall"}


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
    severity: str
    status: str = "triggered"
    created_at: str = ""
    log: list[LogEntry] = field(default_factory=list)

    @property
    def urgency(self) -> str:
        return "high" if self.severity in ("critical", "error") else "low"

    def to_view(self) -> dict[str, Any]:
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


def _now() -> str:
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
    def __init__(self, page_url: Callable[[], str], on_change: Callable[[], None]) -> None:
        self.incidents: list[Incident] = []
        # Where webhooks go (the bot's /webhooks/pagerduty) and the secret they are signed with.
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_answers: list[int] = []
        self._page_url = page_url
        self._on_change = on_change
        self._outgoing: asyncio.Queue[bytes] | None = None
        self._sender: asyncio.Task[None] | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/pagerduty/v2/enqueue", self._enqueue)
        app.router.add_get("/_emulator/pagerduty/incidents", self._list)
        app.router.add_post("/_emulator/pagerduty/incidents/{id}/{action}", self._act)

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
            self._sender = None

    def find(self, incident_id: str) -> Incident | None:
        return next((i for i in self.incidents if i.id == incident_id), None)

    def _open_by_key(self, dedup_key: str) -> Incident | None:
        return next(
            (i for i in self.incidents if i.dedup_key == dedup_key and i.status != "resolved"),
            None,
        )

    # -- Events API v2 --------------------------------------------------------------

    async def _enqueue(self, request: web.Request) -> web.Response:
        try:
            event: Any = await request.json()
        except ValueError:
            event = None
        errors = _event_errors(event)
        if errors:
            body = {"status": "invalid event", "message": "Event object is invalid"}
            return web.json_response({**body, "errors": errors}, status=400)
        action = str(event["event_action"])
        dedup_key = str(event.get("dedup_key") or uuid.uuid4().hex)
        if action == "trigger":
            self._trigger(dedup_key, event["payload"])
        else:
            incident = self._open_by_key(dedup_key)
            if incident is not None:
                self._change(
                    incident,
                    "acknowledged" if action == "acknowledge" else "resolved",
                    "the integration (the bot)",
                    agent=None,
                )
        body = {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
        return web.json_response(body, status=202)

    def _trigger(self, dedup_key: str, payload: dict[str, Any]) -> None:
        incident = self._open_by_key(dedup_key)
        if incident is not None:
            incident.log.append(LogEntry(_now(), "Triggered again (deduplicated)"))
            self._on_change()
            return
        incident = Incident(
            id="Q" + uuid.uuid4().hex[:12].upper(),
            number=len(self.incidents) + 1,
            dedup_key=dedup_key,
            title=str(payload["summary"])[:1024],
            severity=str(payload["severity"]),
            created_at=_now(),
        )
        incident.log.append(
            LogEntry(incident.created_at, f"Triggered; notified {ON_CALL['summary']}")
        )
        self.incidents.append(incident)
        self._on_change()
        self._send("incident.triggered", incident, agent=None)

    def _change(
        self, incident: Incident, status: str, by: str, *, agent: dict[str, Any] | None
    ) -> bool:
        if incident.status == status or incident.status == "resolved":
            return False
        incident.status = status
        incident.log.append(LogEntry(_now(), f"{status.capitalize()} by {by}"))
        self._on_change()
        self._send(f"incident.{status}", incident, agent=agent)
        return True

    # -- people acting in "PagerDuty" (the sandbox page) ----------------------------

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "incidents": [i.to_view() for i in self.incidents]})

    async def _act(self, request: web.Request) -> web.Response:
        incident = self.find(request.match_info["id"])
        action = request.match_info["action"]
        if incident is None:
            return web.json_response({"ok": False, "error": "no such incident"}, status=404)
        if action not in ("acknowledge", "resolve"):
            return web.json_response(
                {"ok": False, "error": "action must be acknowledge or resolve"}, status=400
            )
        if incident.status == "resolved":
            return web.json_response({"ok": False, "error": "already resolved"}, status=409)
        try:
            body: Any = await request.json()
        except ValueError:
            body = {}
        name = str(body.get("as") or ON_CALL["summary"]) if isinstance(body, dict) else ""
        agent = {"id": "PUSER" + name.upper()[:6], "type": "user_reference", "summary": name}
        status = "acknowledged" if action == "acknowledge" else "resolved"
        changed = self._change(incident, status, name, agent=agent)
        return web.json_response({"ok": True, "changed": changed, "incident": incident.to_view()})

    # -- webhooks v3 back to the bot ------------------------------------------------

    def _send(self, event_type: str, incident: Incident, *, agent: dict[str, Any] | None) -> None:
        if self.webhook_url is None or not self.webhook_secret:
            return
        envelope = {
            "event": {
                "id": uuid.uuid4().hex,
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": _now(),
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
            "html_url": f"{self._page_url()}#pagerduty-{incident.id}",
            "number": incident.number,
            "status": incident.status,
            "incident_key": incident.dedup_key,
            "title": incident.title,
            "urgency": incident.urgency,
            "created_at": incident.created_at,
            "service": {"id": SERVICE_ID, "type": "service_reference", "summary": "Sandbox"},
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

"""A PagerDuty stand-in on 127.0.0.1 for tests: Events API v2, REST incidents, v3 webhooks.

It answers as PagerDuty documents, so that the clients are tested against the
documented contract rather than against mocks of themselves:

- `POST /v2/enqueue` validates the event and keeps incidents by dedup_key (trigger opens
  or deduplicates, acknowledge acks, resolve resolves; events for unknown or resolved
  alerts are accepted and dropped, as PagerDuty does);
- `GET` and `PUT /incidents/{id}` check the REST token and, for updates, the From header
  (and, given `users`, that it names one of them), refusing with PagerDuty's codes in the
  same order and words as the sandbox's REST API (bot/sandbox/pagerduty_rest.py);
- `GET /oncalls`, `/schedules`, `/users`, `/escalation_policies` and `/services/{id}`
  answer from `oncall` (bot/sandbox/pagerduty_oncall.py, shared with the sandbox) in the
  documented shapes, classic pagination included;
- `send_webhook` delivers a signed v3 webhook to a URL of ours, with an HMAC computed
  here independently of the bot's verifier.

Every request is recorded in `calls`; `fail_next` and `hang_next` inject 429/5xx answers
and unanswered requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox.pagerduty_oncall import OnCallData, add_oncall_routes

ROUTING_KEY_LENGTH = 32
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
ACCOUNT_URL = "https://acme.pagerduty.com"
API_URL = "https://api.pagerduty.com"
# REST error codes and messages as PagerDuty's "Errors" page lists them
# (https://github.com/PagerDuty/developer-docs/blob/main/docs/REST-API/14-Errors.md), except
# the missing From header: PagerDuty answers it 400 with code 2016 and this message
# (https://github.com/PagerDuty/go-pagerduty/issues/32), though the page's table gives 2016
# another meaning.
FROM_REQUIRED = (
    'You must specify a user\'s email address in the "From" header to perform this action'
)
INVALID_INPUT = "Invalid Input Provided"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RecordedCall:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    # When it arrived (wall clock), for benchmarks that measure delivery delay.
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    query: str = ""  # the raw query string (REST lists: schedule_ids[], offset, ...)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class ServerIncident:
    """An incident as the server keeps it; `actions` lists every event applied to it."""

    id: str
    number: int
    dedup_key: str
    title: str
    status: str = "triggered"
    urgency: str = "high"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    actions: list[str] = field(default_factory=list)
    updated_by: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (From, content)


@dataclass
class _Failure:
    status: int
    remaining: int
    body: Any
    headers: dict[str, str]


class PagerDutyServer:
    def __init__(
        self,
        *,
        api_token: str = "test-api-token",  # noqa: S107 - a fake for the stand-in
        service_id: str = "PSERVC1",
        service_name: str = "API Service",
        users: Iterable[str] | None = None,
    ) -> None:
        """`users`: the login emails of the account's users, which a From header must name;
        None takes any address."""
        self.api_token = api_token
        self.users = None if users is None else {email.lower() for email in users}
        self.service_id = service_id
        self.service_name = service_name
        self.calls: list[RecordedCall] = []
        self.incidents: dict[str, ServerIncident] = {}  # current incident per dedup_key
        self.by_id: dict[str, ServerIncident] = {}
        self.sent_webhooks: list[bytes] = []
        self.change_events: list[dict[str, Any]] = []  # accepted change/enqueue bodies
        self._failures: dict[str, list[_Failure]] = {}
        self._hangs: dict[str, int] = {}
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._numbers = 0
        # Users, schedules, escalation policies, services and /oncalls (shared with the
        # sandbox's PagerDuty, which answers in the same documented shapes).
        self.oncall = OnCallData()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/v2/enqueue", self._enqueue)
        app.router.add_post("/v2/change/enqueue", self._change)
        app.router.add_get("/incidents/{id}", self._get_incident)
        app.router.add_put("/incidents/{id}", self._put_incident)
        app.router.add_post("/incidents/{id}/notes", self._post_note)
        add_oncall_routes(app, self.oncall, token=lambda: self.api_token)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        self._released.set()  # let hanging handlers finish before shutdown
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> PagerDutyServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._port}"

    # -- test controls -----------------------------------------------------------------

    def fail_next(
        self,
        path: str,
        status: int,
        times: int = 1,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` requests to `path` with `status` (and `body` if given)."""
        failure = _Failure(status, times, body, headers or {})
        self._failures.setdefault(path, []).append(failure)

    def hang_next(self, path: str, times: int = 1) -> None:
        """Never answer the next `times` requests to `path` (until the server closes)."""
        self._hangs[path] = self._hangs.get(path, 0) + times

    def calls_to(self, path: str) -> list[RecordedCall]:
        return [call for call in self.calls if call.path == path]

    def open_incident(self, title: str, *, dedup_key: str | None = None) -> ServerIncident:
        """Create an incident directly, as if someone opened it in PagerDuty's web app."""
        self._numbers += 1
        incident = ServerIncident(
            id=f"PD{self._numbers:05d}",
            number=self._numbers,
            dedup_key=dedup_key or uuid.uuid4().hex,
            title=title,
        )
        self.incidents[incident.dedup_key] = incident
        self.by_id[incident.id] = incident
        return incident

    # -- request plumbing --------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        self.calls.append(
            RecordedCall(
                request.method,
                request.path,
                dict(request.headers),
                body,
                query=request.query_string,
            )
        )
        if self._hangs.get(request.path, 0) > 0:
            self._hangs[request.path] -= 1
            await self._released.wait()
            return web.Response(status=503)
        queue = self._failures.get(request.path)
        if queue:
            failure = queue[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.pop(0)
            return self._failure_response(request.path, failure)
        return await handler(request)

    def _failure_response(self, path: str, failure: _Failure) -> web.Response:
        body = failure.body
        if body is None and path == "/v2/enqueue" and failure.status == 429:
            body = {
                "status": "throttle event",
                "message": "Requests for this service are arriving too quickly. Retry later.",
            }
        elif body is None and path.startswith("/incidents/") and failure.status == 429:
            body = {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
        elif body is None:
            return web.Response(status=failure.status, text="Internal Server Error")
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(
            status=failure.status,
            text=text,
            content_type="application/json",
            headers=failure.headers,
        )

    # -- Events API v2 -----------------------------------------------------------------

    async def _enqueue(self, request: web.Request) -> web.Response:
        try:
            event = json.loads(await request.read())
        except ValueError:
            return _invalid_event(["Event body is not valid JSON"])
        if not isinstance(event, dict):
            return _invalid_event(["Event must be a JSON object"])
        errors = _event_errors(event)
        if errors:
            return _invalid_event(errors)

        action = event["event_action"]
        dedup_key = event.get("dedup_key") or uuid.uuid4().hex
        current = self.incidents.get(dedup_key)
        is_open = current is not None and current.status != "resolved"
        if action == "trigger" and not is_open:
            current = self.open_incident(event["payload"]["summary"], dedup_key=dedup_key)
        if current is not None and (is_open or action == "trigger"):
            current.actions.append(action)
            if action == "acknowledge":
                current.status = "acknowledged"
            elif action == "resolve":
                current.status = "resolved"
        # Acknowledge/resolve for unknown or resolved alerts: accepted, then dropped.
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": dedup_key},
            status=202,
        )

    async def _change(self, request: web.Request) -> web.Response:
        """Change events as PagerDuty documents them: a 32-character routing key, a
        summary of at most 1024 characters, optional source, timestamp, custom_details
        and links with an href. No dedup_key: each accepted one is a change of its own."""
        try:
            event = json.loads(await request.read())
        except ValueError:
            return _invalid_event(["Event body is not valid JSON"])
        errors = []
        payload = event.get("payload") if isinstance(event, dict) else None
        if not isinstance(event, dict) or not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            key = event.get("routing_key")
            if not isinstance(key, str) or len(key) != 32:
                errors.append("'routing_key' must be a 32 character string")
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary or len(summary) > 1024:
                errors.append("'payload.summary' is required, at most 1024 characters")
            stamp = payload.get("timestamp")
            if stamp is not None:
                try:
                    datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
                except ValueError:
                    errors.append("'payload.timestamp' is not an ISO 8601 time")
            details = payload.get("custom_details")
            if details is not None and not isinstance(details, dict):
                errors.append("'payload.custom_details' must be an object")
            links = event.get("links", [])
            if not isinstance(links, list) or not all(
                isinstance(link, dict) and isinstance(link.get("href"), str) for link in links
            ):
                errors.append("'links' must be a list of objects with an href")
        if errors:
            return _invalid_event(errors)
        self.change_events.append(event)
        return web.json_response(
            {"status": "success", "message": "Change event processed"}, status=202
        )

    # -- REST API v2 -------------------------------------------------------------------

    def _auth_error(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Token token={self.api_token}":
            return _rest_error(401, "Authentication failed", 2006)
        return None

    async def _get_incident(self, request: web.Request) -> web.Response:
        if (error := self._auth_error(request)) is not None:
            return error
        incident = self.by_id.get(request.match_info["id"])
        if incident is None:
            return _rest_error(404, "Not Found", 2100)
        return web.json_response({"incident": self.rest_incident(incident)})

    async def _put_incident(self, request: web.Request) -> web.Response:
        if (error := self._auth_error(request)) is not None:
            return error
        requester = request.headers.get("From", "").strip()
        if not requester:
            return _rest_error(400, FROM_REQUIRED, 2016)
        if self.users is not None and requester.lower() not in self.users:
            return _rest_error(400, "Requester User Not Found", 1008)
        incident = self.by_id.get(request.match_info["id"])
        if incident is None:
            return _rest_error(404, "Not Found", 2100)
        try:
            update = json.loads(await request.read())["incident"]
            kind, status = update.get("type"), update.get("status")
        except (ValueError, KeyError, TypeError, AttributeError):
            return _rest_error(400, INVALID_INPUT, 2001, ["incident is required."])
        if kind not in ("incident", "incident_reference"):
            problem = "type must be incident or incident_reference."
            return _rest_error(400, INVALID_INPUT, 2001, [problem])
        if status not in ("acknowledged", "resolved"):
            problem = "status must be acknowledged or resolved."
            return _rest_error(400, "Invalid Status Provided", 1003, [problem])
        if incident.status == "resolved":
            return _rest_error(400, "Incident Already Resolved", 1001)
        incident.status = status
        incident.updated_by.append(requester)
        return web.json_response({"incident": self.rest_incident(incident)})

    async def _post_note(self, request: web.Request) -> web.Response:
        if (error := self._auth_error(request)) is not None:
            return error
        requester = request.headers.get("From", "").strip()
        if not requester:
            return _rest_error(400, FROM_REQUIRED, 2016)
        incident = self.by_id.get(request.match_info["id"])
        if incident is None:
            return _rest_error(404, "Not Found", 2100)
        try:
            content = str(json.loads(await request.read())["note"]["content"])
        except (ValueError, KeyError, TypeError):
            return _rest_error(400, INVALID_INPUT, 2001, ["note is required."])
        incident.notes.append((requester, content))
        note = {"id": f"PN{len(incident.notes):05d}", "content": content}
        return web.json_response({"note": note}, status=201)

    # -- representations ---------------------------------------------------------------

    def _service(self) -> dict[str, Any]:
        return {
            "id": self.service_id,
            "type": "service_reference",
            "summary": self.service_name,
            "self": f"{API_URL}/services/{self.service_id}",
            "html_url": f"{ACCOUNT_URL}/services/{self.service_id}",
        }

    def rest_incident(self, incident: ServerIncident) -> dict[str, Any]:
        """The REST API v2 representation of `incident`."""
        return {
            "id": incident.id,
            "type": "incident",
            "summary": f"[#{incident.number}] {incident.title}",
            "self": f"{API_URL}/incidents/{incident.id}",
            "html_url": f"{ACCOUNT_URL}/incidents/{incident.id}",
            "incident_number": incident.number,
            "title": incident.title,
            "status": incident.status,
            "incident_key": incident.dedup_key,
            "urgency": incident.urgency,
            "created_at": _iso(incident.created_at),
            "service": self._service(),
            "assignments": [],
            "acknowledgements": [],
            "alert_counts": {"all": 1, "triggered": 0, "resolved": 0},
        }

    def webhook_data(
        self, incident: ServerIncident, *, assignees: Sequence[dict[str, Any]] = ()
    ) -> dict[str, Any]:
        """The v3 webhook `event.data` for `incident`, shaped as PagerDuty documents it."""
        return {
            "id": incident.id,
            "type": "incident",
            "self": f"{API_URL}/incidents/{incident.id}",
            "html_url": f"{ACCOUNT_URL}/incidents/{incident.id}",
            "number": incident.number,
            "status": incident.status,
            "incident_key": incident.dedup_key,
            "created_at": _iso(incident.created_at),
            "title": incident.title,
            "service": self._service(),
            "assignees": list(assignees),
            "escalation_policy": {
                "id": "PUS0KTE",
                "type": "escalation_policy_reference",
                "summary": "Default",
                "self": f"{API_URL}/escalation_policies/PUS0KTE",
                "html_url": f"{ACCOUNT_URL}/escalation_policies/PUS0KTE",
            },
            "teams": [],
            "priority": None,
            "urgency": incident.urgency,
            "conference_bridge": None,
            "resolve_reason": None,
        }

    # -- v3 webhooks -------------------------------------------------------------------

    async def send_webhook(
        self,
        url: str,
        event_type: str,
        incident: dict[str, Any],
        secret: str | Sequence[str],
        *,
        agent: dict[str, Any] | None = None,
        signature: str | None = None,
        occurred_at: datetime | None = None,
    ) -> tuple[int, str]:
        """POST a signed v3 webhook to `url`; return the receiver's status and body.

        Several secrets produce several comma-separated `v1=` values, as PagerDuty sends
        during a secret rotation; `signature` replaces the header value outright.
        """
        envelope = {
            "event": {
                "id": uuid.uuid4().hex,
                "event_type": event_type,
                "resource_type": event_type.split(".", 1)[0],
                "occurred_at": _iso(occurred_at or datetime.now(UTC)),
                "agent": agent,
                "client": {"name": "PagerDuty"} if agent is not None else None,
                "data": incident,
            }
        }
        body = json.dumps(envelope).encode("utf-8")
        secrets = [secret] if isinstance(secret, str) else list(secret)
        header = signature
        if header is None:
            header = ",".join(
                "v1=" + hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()
                for key in secrets
            )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PagerDuty-Webhook/V3.0",
            "X-PagerDuty-Signature": header,
            "X-Webhook-Id": str(uuid.uuid4()),
            "X-Webhook-Subscription": "PSUBSC1",
        }
        self.sent_webhooks.append(body)
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            return response.status, await response.text()


def _event_errors(event: dict[str, Any]) -> list[str]:
    """What the Events API would list in `errors` for this event."""
    errors: list[str] = []
    routing_key = event.get("routing_key")
    if not isinstance(routing_key, str) or len(routing_key) != ROUTING_KEY_LENGTH:
        errors.append(f"'routing_key' must be a {ROUTING_KEY_LENGTH} character string")
    action = event.get("event_action")
    if action not in EVENT_ACTIONS:
        errors.append("'event_action' is invalid (must be trigger, acknowledge or resolve)")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append(f"'dedup_key' is required for {action} events")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
            return errors
        for name in ("summary", "source", "severity"):
            value = payload.get(name)
            if not isinstance(value, str) or not value.strip():
                errors.append(f"'payload.{name}' is missing or blank")
        summary = payload.get("summary")
        if isinstance(summary, str) and len(summary) > 1024:
            errors.append("'payload.summary' must be at most 1024 characters")
        severity = payload.get("severity")
        if isinstance(severity, str) and severity.strip() and severity not in SEVERITIES:
            errors.append("'payload.severity' must be one of critical, error, warning, info")
    return errors


def _invalid_event(errors: list[str]) -> web.Response:
    body = {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
    return web.json_response(body, status=400)


def _rest_error(status: int, message: str, code: int, errors: Sequence[str] = ()) -> web.Response:
    # The Errors page's shape: `errors` is present, empty when there is no detail.
    error = {"message": message, "code": code, "errors": list(errors)}
    return web.json_response({"error": error}, status=status)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

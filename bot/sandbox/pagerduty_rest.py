"""The part of PagerDuty's REST API v2 that the bot calls, for the sandbox's PagerDuty.

Acknowledge and Resolve on the bot's PagerDuty incident messages act as the person who
clicked (`actions/pagerduty/incidents.py`): `PUT /incidents/{id}` with `From: <their
PagerDuty login email>`, and `GET /incidents/{id}`. Without these the buttons fail in
the sandbox. The answers follow PagerDuty's documented contract, so that what works here
works against the real service:

- every refusal is `{"error": {"message", "code", "errors": [...]}}`;
- `Authorization: Token token=<API token>`, else 401 "Authentication failed" (2006);
- `PUT` needs a `From` header (400, 2016) naming a user of the account (400 "Requester
  User Not Found", 1008), and `{"incident": {"type": "incident" | "incident_reference",
  "status": ...}}` (else 400 "Invalid Input Provided", 2001, the problem in `errors`)
  whose status is acknowledged or resolved (else 400 "Invalid Status Provided", 1003);
- triggered -> acknowledged -> resolved; acknowledging again is accepted, changing a
  resolved incident is 400 "Incident Already Resolved" (1001);
- an unknown incident is 404 "Not Found" (2100); `GET` takes the incident number too;
- success is 200 `{"incident": {...}}` in the REST representation (`incident_number`,
  `assignments`, `acknowledgements`, `last_status_change_*`), not the webhook's shape.

A change made here is the same change as one made in the panel: the page shows it and the
v3 webhook goes back to the bot (incident.acknowledged / incident.resolved, the From user as
its agent). Served under `/pagerduty/api`: PAGERDUTY_API_URL is `<emulator>/pagerduty/api`.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from bot.sandbox.pagerduty import (
    ESCALATION_POLICY,
    ON_CALL,
    SERVICE,
    Incident,
    PagerDutyEmulator,
)
from bot.sandbox.pagerduty_oncall import add_oncall_routes

API_PREFIX = "/pagerduty/api"
UPDATABLE = ("acknowledged", "resolved")
REFERENCE_TYPES = ("incident", "incident_reference")
# Codes and messages from PagerDuty's REST API "Errors" page (served under
# https://developer.pagerduty.com/docs/, source
# https://github.com/PagerDuty/developer-docs/blob/main/docs/REST-API/14-Errors.md).
# That table gives 2016 as "The request took too long to process", yet PagerDuty answers a
# write without From with 400, code 2016 and the message below (reported in
# https://github.com/PagerDuty/go-pagerduty/issues/32 and
# https://github.com/PagerDuty/pdpyras/issues/78); what it sends is what clients meet.
# tests/servers/pagerduty.py answers the same; tests/emulator/test_pagerduty_rest.py
# holds the two to it.
FROM_REQUIRED = (
    'You must specify a user\'s email address in the "From" header to perform this action'
)
INVALID_INPUT = "Invalid Input Provided"


def add_rest_routes(app: web.Application, pagerduty: PagerDutyEmulator) -> None:
    api = RestApi(pagerduty)
    app.router.add_get(API_PREFIX + "/incidents/{id}", api.get)
    app.router.add_put(API_PREFIX + "/incidents/{id}", api.put)
    add_oncall_routes(
        app, pagerduty.oncall, token=lambda: pagerduty.api_token or "", prefix=API_PREFIX
    )


class RestApi:
    def __init__(self, pagerduty: PagerDutyEmulator) -> None:
        self._pd = pagerduty

    async def get(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return rest_error(401, "Authentication failed", 2006)
        incident = self._find(request.match_info["id"])
        if incident is None:
            return rest_error(404, "Not Found", 2100)
        return web.json_response({"incident": self.representation(incident)})

    async def put(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return rest_error(401, "Authentication failed", 2006)
        email = request.headers.get("From", "").strip()
        if not email:
            return rest_error(400, FROM_REQUIRED, 2016)
        person = self._pd.person(email=email)
        if person is None:
            return rest_error(400, "Requester User Not Found", 1008)
        incident = self._find(request.match_info["id"])
        if incident is None:
            return rest_error(404, "Not Found", 2100)
        status, refused = requested_status(await _json(request))
        if refused is not None:
            return refused
        if incident.status == "resolved":
            return rest_error(400, "Incident Already Resolved", 1001)
        self._pd.change(incident, status, person, via=" (from Slack, through the REST API)")
        return web.json_response({"incident": self.representation(incident)})

    def _authorised(self, request: web.Request) -> bool:
        token = self._pd.api_token
        given = request.headers.get("Authorization", "")
        return bool(token) and hmac.compare_digest(given.encode(), f"Token token={token}".encode())

    def _find(self, key: str) -> Incident | None:
        found = self._pd.find(key)
        if found is None and key.isdigit():
            found = next((i for i in self._pd.incidents if i.number == int(key)), None)
        return found

    def representation(self, incident: Incident) -> dict[str, Any]:
        """The incident as `GET /incidents/{id}` shows it."""
        api = self._pd.root_url.rstrip("/") + API_PREFIX
        resolved = incident.status == "resolved"
        acknowledged = incident.status == "acknowledged"
        return {
            "id": incident.id,
            "type": "incident",
            "summary": f"[#{incident.number}] {incident.title}",
            "self": f"{api}/incidents/{incident.id}",
            "html_url": self._pd.html_url(incident),
            "incident_number": incident.number,
            "title": incident.title,
            "description": incident.title,
            "status": incident.status,
            "incident_key": incident.dedup_key,
            "urgency": incident.urgency,
            "created_at": incident.created_at,
            "updated_at": incident.changed_at,
            "last_status_change_at": incident.changed_at,
            "last_status_change_by": incident.changed_by,
            "resolved_at": incident.changed_at if resolved else None,
            "service": SERVICE,
            "escalation_policy": ESCALATION_POLICY,
            "teams": [],
            "priority": None,
            # PagerDuty empties assignments once resolved, acknowledgements unless acked.
            "assignments": [] if resolved else [{"at": incident.created_at, "assignee": ON_CALL}],
            "acknowledgements": [
                {"at": at, "acknowledger": who} for at, who in incident.acknowledgements
            ]
            if acknowledged
            else [],
            "alert_counts": {
                "all": 1,
                "triggered": 0 if resolved else 1,
                "resolved": 1 if resolved else 0,
            },
        }


def requested_status(body: Any) -> tuple[str, web.Response | None]:
    """The status a PUT asks for, or PagerDuty's refusal of its body."""
    update = body.get("incident") if isinstance(body, dict) else None
    if not isinstance(update, dict):
        return "", rest_error(400, INVALID_INPUT, 2001, ["incident is required."])
    if update.get("type") not in REFERENCE_TYPES:
        problem = "type must be incident or incident_reference."
        return "", rest_error(400, INVALID_INPUT, 2001, [problem])
    status = update.get("status")
    if status not in UPDATABLE:
        problem = "status must be acknowledged or resolved."
        return "", rest_error(400, "Invalid Status Provided", 1003, [problem])
    return str(status), None


def rest_error(
    status: int, message: str, code: int, errors: list[str] | None = None
) -> web.Response:
    """PagerDuty's error body: `errors` is always there, empty when there is no detail."""
    error = {"message": message, "code": code, "errors": list(errors or [])}
    return web.json_response({"error": error}, status=status)


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None

"""The sandbox page's PagerDuty panel: what a person does in PagerDuty's own web app.

A newcomer acknowledges the P0's incident here and watches Slack follow (the webhook goes
back to the bot), or opens an incident by hand, as a support engineer or another
monitoring tool would: one the bot did not page, which it then shows in its own message
with Acknowledge and Resolve buttons that act back here through the REST API.

The acting person is named by Slack user id (`"user": "U0000ONC01"`), the page's user
switcher; `"as": "<name>"` is still taken for a name typed by hand.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.pagerduty import ON_CALL, PagerDutyEmulator, Person

ACTIONS = {"acknowledge": "acknowledged", "resolve": "resolved"}
URGENCIES = ("high", "low")


def add_panel_routes(app: web.Application, pagerduty: PagerDutyEmulator) -> None:
    async def listing(request: web.Request) -> web.Response:
        incidents = [i.to_view() for i in pagerduty.incidents]
        return web.json_response({"ok": True, "incidents": incidents})

    async def open_incident(request: web.Request) -> web.Response:
        body = await _body(request)
        title = str(body.get("title") or "").strip()
        urgency = str(body.get("urgency") or "high")
        if not title:
            return _fail(400, "title is required: what is wrong?")
        if urgency not in URGENCIES:
            return _fail(400, "urgency must be high or low")
        incident = pagerduty.open(title, urgency, by=_acting(pagerduty, body))
        return web.json_response({"ok": True, "incident": incident.to_view()})

    async def act(request: web.Request) -> web.Response:
        incident = pagerduty.find(request.match_info["id"])
        status = ACTIONS.get(request.match_info["action"])
        if incident is None:
            return _fail(404, "no such incident")
        if status is None:
            return _fail(400, "action must be acknowledge or resolve")
        if incident.status == "resolved":
            return _fail(409, "already resolved")
        who = _acting(pagerduty, await _body(request))
        changed = pagerduty.change(incident, status, who)
        return web.json_response({"ok": True, "changed": changed, "incident": incident.to_view()})

    app.router.add_get("/_emulator/pagerduty/incidents", listing)
    app.router.add_post("/_emulator/pagerduty/incidents", open_incident)
    app.router.add_post("/_emulator/pagerduty/incidents/{id}/{action}", act)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body: Any = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _acting(pagerduty: PagerDutyEmulator, body: dict[str, Any]) -> Person:
    """The person acting from the panel: the chosen sandbox user, else the on-call one."""
    user = str(body.get("user") or "")
    if user:
        found = pagerduty.person(id="P" + user[1:])
        if found is not None:
            return found
    name = str(body.get("as") or ON_CALL["summary"])
    named = next((p for p in pagerduty.people() if p.name == name), None)
    return named or Person("PSANDBOX", name, "")


def _fail(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)

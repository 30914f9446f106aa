"""The sandbox workspace page: a Slack-like view of the emulator at `/`.

Trying the product from a terminal means digging timestamps out of JSON. The page shows
the workspace as Slack would (channels, Block Kit, threads, reactions, ephemerals for
the chosen user) and acts through the same control endpoints as `chatops sandbox ...`,
so a click on the page is the same signed request Slack would send. It is plain HTML,
CSS and one script shipped as package data: no build step, nothing fetched at run time.

Live updates are server-sent events: the stream says "changed" whenever the workspace
moved on (a Web API call, a response_url post, a reaction, a PagerDuty change) and the
page fetches `/_emulator/state` again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox.emoji import EMOJI
from bot.sandbox.pagerduty import PagerDutyEmulator
from bot.sandbox.store import JSON, Message, Store
from bot.sandbox.watchdog import SandboxWatchdog

# The bundled Alertmanager notifications (a source checkout; `make sandbox` runs from one).
EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples" / "alerts"
STATIC = ("index.html", "app.js", "app.css")
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
# The page runs only its own script and styles and talks only to this server: markup that
# slipped through the page's escaping could not run script, load or send anything.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
POLL_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0


def example_names() -> list[str]:
    return [p.stem for p in sorted(EXAMPLES.glob("*.json"))]


def resolved_copy(notification: JSON) -> JSON:
    """The same notification as Alertmanager sends it once its alerts have ended."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    alerts = [{**a, "status": "resolved", "endsAt": now} for a in notification.get("alerts", [])]
    return {**notification, "status": "resolved", "alerts": alerts}


class WorkspacePage:
    def __init__(
        self,
        store: Store,
        pagerduty: PagerDutyEmulator,
        fingerprint: Callable[[], tuple[int, ...]],
    ) -> None:
        self.store = store
        self.pagerduty = pagerduty
        # Set by the sandbox runner: where the bot takes Alertmanager notifications.
        self.alertmanager_url: str | None = None
        self.alertmanager_token: str | None = None
        # User id -> roles ("deployer", "approver", "on-call", "outsider"), from the config.
        self.roles: dict[str, list[str]] = {}
        self._fingerprint = fingerprint
        self._closing = asyncio.Event()
        # Alertmanager's always-firing Watchdog, stopped and started from the panel.
        self.watchdog = SandboxWatchdog(lambda: (self.alertmanager_url, self.alertmanager_token))

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/favicon.ico", self._no_icon)
        app.router.add_get("/_emulator/state", self._state)
        app.router.add_get("/_emulator/stream", self._stream)
        app.router.add_get("/_emulator/users", self._users)
        app.router.add_post("/_emulator/alertmanager", self._alertmanager)
        self.watchdog.add_routes(app)

    def close(self) -> None:
        """End the open event streams, so that the server can stop at once."""
        self._closing.set()

    # -- files ----------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def _no_icon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return self._file(name)

    def _file(self, name: str) -> web.Response:
        text = resources.files("bot.sandbox").joinpath("static", name).read_text("utf-8")
        content_type = CONTENT_TYPES[Path(name).suffix]
        return web.Response(text=text, content_type=content_type, headers=PAGE_HEADERS)

    # -- state ----------------------------------------------------------------------

    def users(self) -> list[JSON]:
        store = self.store
        return [
            {
                "id": user.id,
                "name": user.name,
                "real_name": user.real_name,
                "roles": self.roles.get(user.id, ["outsider"]),
            }
            for user in store.users.values()
            if not user.is_bot
        ]

    async def _users(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "users": self.users()})

    async def _state(self, request: web.Request) -> web.Response:
        store = self.store
        channels = [
            {
                "id": c.id,
                "name": c.name,
                "messages": [self._message(m, with_replies=True) for m in store.top_level(c.id)],
            }
            for c in store.channels.values()
        ]
        names = {u.id: u.real_name for u in store.users.values()}
        body = {
            "ok": True,
            "version": list(self._fingerprint()),
            "channels": channels,
            "ephemerals": [self._message(m) for m in store.ephemerals],
            "users": self.users(),
            "names": names,
            "usergroups": {g.id: g.handle for g in store.usergroups.values()},
            "examples": example_names(),
            "watchdog": self.watchdog.view(),
            "oncall": self.pagerduty.oncall.now_view(),
            "emoji": EMOJI,
            "incidents": [i.to_view() for i in self.pagerduty.incidents],
        }
        return web.json_response(body)

    def _message(self, message: Message, *, with_replies: bool = False) -> JSON:
        out = message.to_dict()
        out["attachments"] = message.attachments
        if with_replies:
            out["replies"] = [
                self._message(r) for r in self.store.replies(message.channel, message.ts)
            ]
        return out

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        last: tuple[int, ...] | None = None
        quiet = 0.0
        try:
            while not self._closing.is_set():
                now = self._fingerprint()
                if now != last:
                    last = now
                    quiet = 0.0
                    await response.write(f"data: {json.dumps(list(now))}\n\n".encode())
                elif quiet >= KEEPALIVE_SECONDS:
                    quiet = 0.0
                    await response.write(b": keep-alive\n\n")
                try:
                    await asyncio.wait_for(self._closing.wait(), POLL_SECONDS)
                except TimeoutError:
                    quiet += POLL_SECONDS
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass  # the tab was closed
        return response

    # -- the Alertmanager panel -----------------------------------------------------

    async def _alertmanager(self, request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("name") not in example_names():
            names = ", ".join(example_names())
            return _fail(400, f"name must be one of the bundled examples: {names}")
        if self.alertmanager_url is None:
            return _fail(409, "the bot's Alertmanager webhook is not known to the emulator")
        notification = json.loads((EXAMPLES / f"{body['name']}.json").read_text())
        if body.get("resolve"):
            notification = resolved_copy(notification)
        headers = {"Authorization": f"Bearer {self.alertmanager_token or ''}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                session.post(self.alertmanager_url, json=notification, headers=headers) as answer,
            ):
                text = await answer.text()
                status = answer.status
        except aiohttp.ClientError as exc:
            return _fail(502, f"the bot did not answer: {exc}")
        if status >= 300:
            return _fail(502, f"the bot answered {status}: {text[:300]}")
        return web.json_response({"ok": True, "status": status})


def _fail(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)

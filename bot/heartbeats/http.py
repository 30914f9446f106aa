"""The heartbeats' HTTP side: `POST /heartbeats/{name}`, and Watchdog alerts at intake.

The endpoint takes the Alertmanager webhook's token (Bearer or basic auth): whoever may
send alerts may say "still alive". The token is checked before the name, so that a
caller without it learns nothing about which heartbeats exist. The body is ignored.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from aiohttp import web

from alerts.alertmanager import AlertmanagerNotification
from bot.heartbeats.feature import Heartbeats
from bot.http.bodies import error
from bot.http.webhook_auth import is_authorised
from bot.metrics import Metrics
from bot.settings import Settings

# Matching 30,000 alerts against a few heartbeats takes ~30 ms: off the event loop, like
# the parse of such a notification (bot/http/routes.py).
IN_THREAD = 1000


class HeartbeatEdge(Protocol):
    @property
    def heartbeats(self) -> Heartbeats: ...
    @property
    def alertmanager_token(self) -> str: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def metrics(self) -> Metrics: ...


def handler(service: HeartbeatEdge) -> Any:
    async def heartbeat(request: web.Request) -> web.Response:
        if not is_authorised(
            request.headers.get("Authorization"),
            service.alertmanager_token,
            username=service.settings.alertmanager_webhook_username,
        ):
            service.metrics.webhook_rejected.labels("heartbeat", "unauthorised").inc()
            return web.json_response(
                {"status": "error", "error": "missing or wrong token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="chatops"'},
            )
        name = request.match_info["name"]
        if not service.heartbeats.known(name):
            return error(404, "no heartbeat of that name in the config")
        await service.heartbeats.signal([name])
        return web.json_response({"status": "ok", "heartbeat": name})

    return heartbeat


async def take_signals(
    heartbeats: Heartbeats, notification: AlertmanagerNotification, data: Any
) -> Any | None:
    """Record the heartbeats a notification signals; the body to store without their
    alerts, or None when every alert was a heartbeat's (nothing to post)."""
    if len(notification.alerts) > IN_THREAD:
        names, taken = await asyncio.to_thread(heartbeats.take, notification)
    else:
        names, taken = heartbeats.take(notification)
    if not taken:
        return data
    if names:
        await heartbeats.signal(names)
    if len(taken) == len(notification.alerts):
        return None
    skip = set(taken)
    return {**data, "alerts": [a for i, a in enumerate(data["alerts"]) if i not in skip]}

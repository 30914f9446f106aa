"""The sandbox's Watchdog: what a real Alertmanager re-sends every `repeat_interval`.

While it runs, it posts the always-firing `Watchdog` notification to the bot's
Alertmanager webhook every EVERY seconds; the sandbox's `watchdog` heartbeat takes it.
The Alertmanager panel stops and starts it, so a newcomer sees the heartbeat go late
(posted, and paged in the PagerDuty panel) and come back (resolved).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

EVERY = 15.0  # seconds between notifications (the sandbox heartbeat's `every`)


def notification(started: str) -> dict[str, Any]:
    labels = {"alertname": "Watchdog", "severity": "none"}
    annotations = {"summary": "An alert that always fires, to show alerting works end to end"}
    return {
        "version": "4",
        "groupKey": '{}:{alertname="Watchdog"}',
        "status": "firing",
        "receiver": "chatops",
        "groupLabels": {"alertname": "Watchdog"},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "http://alertmanager.sandbox:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": started,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.sandbox:9090/graph?g0.expr=vector%281%29",
                "fingerprint": "a0a0a0a0a0a0a0a0",
            }
        ],
    }


class SandboxWatchdog:
    def __init__(
        self, target: Callable[[], tuple[str | None, str | None]], every: float = EVERY
    ) -> None:
        """`target` gives the bot's webhook URL and token (known once the bot runs)."""
        self._target = target
        self.every = every
        self._task: asyncio.Task[None] | None = None
        self._started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.sent = 0
        self.last_sent: str | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def view(self) -> dict[str, Any]:
        return {"running": self.running, "sent": self.sent, "last_sent": self.last_sent}

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="sandbox-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/_emulator/watchdog", self._toggle)

    async def _toggle(self, request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("running"), bool):
            return web.json_response(
                {"ok": False, "error": "running must be true or false"}, status=400
            )
        if body["running"]:
            self.start()
        else:
            await self.stop()
        return web.json_response({"ok": True, **self.view()})

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            while True:
                await self._send(http)
                await asyncio.sleep(self.every)

    async def _send(self, http: aiohttp.ClientSession) -> None:
        url, token = self._target()
        if url is None:
            return
        headers = {"Authorization": f"Bearer {token or ''}"}
        try:
            async with http.post(url, json=notification(self._started), headers=headers) as answer:
                if answer.status < 300:
                    self.sent += 1
                    self.last_sent = datetime.now(UTC).strftime("%H:%M:%S")
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("sandbox watchdog not delivered: %s", type(exc).__name__)

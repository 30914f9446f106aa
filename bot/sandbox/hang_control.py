"""`POST /_emulator/hang`: make the emulated Slack slow or silent from outside the process.

`{"seconds": 20, "channel": "C...", "method": "chat.postMessage", "delay": 3}` holds the
matching Web API calls arriving in the next `seconds` (each for `delay` seconds, or until
the window ends); `{"release": true}` ends every hang at once. What `SlackEmulator.hang`
does, for a sandbox driven from a second terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

Hang = Callable[..., None]


def add_hang_route(app: web.Application, hang: Hang, release: Callable[[], None]) -> None:
    async def handle(request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            if body.get("release"):
                release()
            else:
                delay = body.get("delay")
                hang(
                    float(body["seconds"]),
                    channel=_opt(body.get("channel")),
                    method=_opt(body.get("method")),
                    delay=None if delay is None else float(delay),
                )
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"ok": False, "error": f"bad hang: {exc}"}, status=400)
        return web.json_response({"ok": True})

    app.router.add_post("/_emulator/hang", handle)


def _opt(value: object) -> str | None:
    return None if value is None or value == "" else str(value)

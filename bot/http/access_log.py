"""The HTTP access log, without query strings or headers.

aiohttp's default format logs the request line with its query string, the Referer and the
User-Agent. A caller that puts a token in the URL (`?token=...`, refused, but logged)
would leave the secret in the log, and logs travel: to the log store, to whoever reads
it, and, through the CHATOPS_OUTBOX_BACKLOG runbook, to Slack. The route alone says which
endpoint was called; a path that matches no route is written as `(no route)`, since its
text is the caller's too.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class PathOnlyAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.3fs',
            request.remote,
            request.method,
            _route_of(request),
            response.status,
            response.body_length,
            time,
        )


def _route_of(request: web.BaseRequest) -> str:
    match_info = getattr(request, "match_info", None)
    resource = None if match_info is None else match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


def app_runner(app: web.Application) -> web.AppRunner:
    """The runner `chatops serve` (and the tests) serve the bot with."""
    return web.AppRunner(app, handle_signals=False, access_log_class=PathOnlyAccessLogger)

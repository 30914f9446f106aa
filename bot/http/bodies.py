"""Reading a request body under a limit, and the JSON error every endpoint answers with."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.http.limits import LIMITS, RequestLimits

# Slack's requests are small; the Alertmanager webhook's limit is `http.max_body`.
MAX_BODY = 1024 * 1024
CHUNK = 64 * 1024
_DEFAULT_LIMITS = RequestLimits(body_timeout=10.0)


def error(status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status)


REASONS = {413: "too_large", 408: "timeout", 503: "busy"}


def refusal_reason(response: web.Response) -> str:
    """The `chatops_webhook_rejected` reason of a response `read_body` gave."""
    return REASONS.get(response.status, "invalid")


def closing(response: web.Response) -> web.Response:
    """`response`, after which the connection is closed rather than read on."""
    response.force_close()
    return response


async def read_body(
    request: web.Request, limit: int = MAX_BODY, *, verified: bool = False
) -> bytes | web.Response:
    """The body, up to `limit` bytes, within `http.body_timeout`. Read from the stream (not
    `request.read()`, which stops at the app-wide 1 MiB) so that each endpoint has its own
    limit. Unless the caller is `verified` already (Alertmanager's token is in the
    headers), the bytes count against `http.max_unverified_body` while they are read:
    Slack's and PagerDuty's signatures cover the body, so it is read before they are
    checked. A refusal closes the connection."""
    limits = request.app.get(LIMITS) or _DEFAULT_LIMITS
    if request.content_length is not None and request.content_length > limit:
        return closing(error(413, f"body over {limit} bytes"))
    budget = None if verified else limits.budget
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.body_timeout):
            async for chunk in request.content.iter_chunked(CHUNK):
                if size + len(chunk) > limit:
                    return closing(error(413, f"body over {limit} bytes"))
                if budget is not None and not budget.take(len(chunk)):
                    return closing(error(503, "too many request bodies in progress, try again"))
                size += len(chunk)
                chunks.append(chunk)
    except TimeoutError:
        return closing(error(408, f"body not received within {limits.body_timeout:g}s"))
    except ConnectionError:  # the sender went away mid-body: no one to answer
        return closing(error(400, "connection lost before the body was complete"))
    finally:
        if budget is not None:
            budget.give(size)
    return b"".join(chunks)

"""Reading a request body under a limit, and the JSON error every endpoint answers with."""

from __future__ import annotations

from aiohttp import web

# Slack's requests are small; the Alertmanager webhook's limit is `http.max_body`.
MAX_BODY = 1024 * 1024


def error(status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status)


async def read_body(request: web.Request, limit: int = MAX_BODY) -> bytes | web.Response:
    """The body, up to `limit` bytes. Read from the stream (not `request.read()`, which
    stops at the app-wide 1 MiB) so that each endpoint has its own limit."""
    too_large = error(413, f"body over {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        return too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > limit:
            return too_large
        chunks.append(chunk)
    return b"".join(chunks)

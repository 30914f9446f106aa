"""Reading Web API arguments the way Slack accepts them.

slack_sdk sends GET query strings, form posts (where `blocks` is a JSON string) and
JSON posts, and sometimes POSTs with the arguments in the query string; the token may
come as `Authorization: Bearer` or as an argument. Every handler wants one flat dict.
"""

from __future__ import annotations

import json

from aiohttp import web

from bot.sandbox.store import JSON

# Arguments Slack sends as JSON strings in form posts; parsed so recordings are data.
_JSON_ARGS = ("blocks", "attachments", "metadata")


async def read_args(request: web.Request) -> tuple[JSON, bool]:
    """Query string and body merged; and whether a JSON body was unreadable."""
    args: JSON = dict(request.query)
    malformed = False
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            raw = await request.read()
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                body, malformed = {}, True
            if isinstance(body, dict):
                args.update(body)
            else:
                malformed = True
        else:
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in _JSON_ARGS:
        value = args.get(key)
        if isinstance(value, str):
            try:
                args[key] = json.loads(value)
            except ValueError:
                pass  # kept as sent; the method reports invalid_blocks_format
    return args, malformed


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None

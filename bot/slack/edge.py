"""Checks on a signed Slack request before bolt sees it.

Bolt parses a body with plain `json.loads`, so a body nested deeper than the interpreter's
recursion limit would fail inside it as a 500; it is answered 400 here instead. Events
API bodies carry an event id that Slack's retries repeat, which the replay guard keeps.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from alerts.json_bodies import JsonBodyError, JsonTooDeep, load_json


def too_deep(body: bytes) -> bool:
    """A signed body bolt could not parse without recursing too deep: JSON events, or the
    JSON `payload` field of a click."""
    if body.lstrip().startswith(b"{"):
        document: bytes | str = body
    else:
        payload = parse_qs(body.decode("utf-8", errors="replace")).get("payload")
        if not payload:
            return False
        document = payload[0]
    try:
        load_json(document)
    except JsonTooDeep:
        return True
    except JsonBodyError:
        return False  # bolt answers malformed bodies itself
    return False


def event_key_of(body: bytes) -> str | None:
    """The Events API's event id of a (signed) JSON body, as a receipt key."""
    if not body.lstrip().startswith(b"{"):
        return None  # slash commands and clicks are form-encoded and carry no event id
    try:
        data = load_json(body)
    except JsonBodyError:
        return None
    event_id = data.get("event_id") if isinstance(data, dict) else None
    return f"event:{event_id}" if isinstance(event_id, str) and event_id else None

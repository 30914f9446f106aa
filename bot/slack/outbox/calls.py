"""Outbox op `call`: the Web API methods that are neither messages nor uploads.

An incident's channel is made with these: conversations.create, then invite, topic,
purpose, pins.add and, later, conversations.archive. Each is a durable outbox row like a
message, so a restart neither loses nor repeats one.

conversations.create is the one whose answer later calls need (the new channel's id): a
create row carries a `message_key` and its channel is recorded under that key in
`slack_messages`, as a post's ts is, so a feature can read where the channel is. A name
Slack answers `name_taken` for is tried again with -2, -3... in the same call.

pins.add pins a message the bot posted: its row names that message by `message_key`
and waits for its post like a thread reply does (parents.py).

Only the methods below may be queued; anything else fails for good.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError

from bot.slack.outbox.failures import Permanent
from bot.slack.outbox.parents import Parents, parent_of
from bot.storage.models import OutboxEntry

log = logging.getLogger(__name__)

CREATE = "conversations.create"
METHODS = (
    CREATE,
    "conversations.invite",
    "conversations.setTopic",
    "conversations.setPurpose",
    "conversations.archive",
    "pins.add",
)
NAME_TRIES = 20  # -2 ... -20: past that, a naming scheme is wrong, not unlucky
MAX_INVITES = 100  # users one invite row may add (user groups expanded): bounds its calls
# Answers that mean the call's goal already holds.
DONE_ALREADY = {
    "conversations.invite": ("already_in_channel", "cant_invite_self"),
    "pins.add": ("already_pinned",),
    "conversations.archive": ("already_archived",),
}


class Api(Protocol):
    async def api_call(self, api_method: str, *, json: dict[str, Any]) -> Any: ...
    async def usergroups_users_list(self, *, usergroup: str) -> Any: ...


Call = Callable[[Api, dict[str, Any]], Awaitable[Any]]
# Each method named where it is called, so that the manifest's scopes can be checked
# against the code (tests/shipping/test_slack_scopes.py).
CALLS: dict[str, Call] = {
    "conversations.invite": lambda c, a: c.api_call("conversations.invite", json=a),
    "conversations.setTopic": lambda c, a: c.api_call("conversations.setTopic", json=a),
    "conversations.setPurpose": lambda c, a: c.api_call("conversations.setPurpose", json=a),
    "conversations.archive": lambda c, a: c.api_call("conversations.archive", json=a),
    "pins.add": lambda c, a: c.api_call("pins.add", json=a),
}


def is_create(row: OutboxEntry) -> bool:
    return row.op == "call" and row.payload.get("method") == CREATE


def _with_suffix(name: str, attempt: int) -> str:
    if attempt <= 1:
        return name
    suffix = f"-{attempt}"
    return name[: 80 - len(suffix)].rstrip("-_") + suffix


async def send_call(client: Api, row: OutboxEntry, parents: Parents) -> dict[str, Any]:
    """Make the row's call; SlackApiError propagates for the sender to classify."""
    method = str(row.payload.get("method", ""))
    args = dict(row.payload.get("args") or {})
    if method not in METHODS:
        raise Permanent(f"the outbox does not make {method!r} calls")
    if method == CREATE:
        return await _create(client, args)
    if method == "pins.add":
        channel, ts = parent_of(row, parents)
        args.update(channel=channel, timestamp=ts)
    else:
        args.setdefault("channel", row.channel)
    if method == "conversations.invite":
        return await _invite(client, args)
    return await _tolerant(client, method, args)


async def _create(client: Api, args: dict[str, Any]) -> dict[str, Any]:
    name = str(args.get("name", ""))
    for attempt in range(1, NAME_TRIES + 1):
        try:
            response = await client.api_call(
                "conversations.create", json={**args, "name": _with_suffix(name, attempt)}
            )
        except SlackApiError as exc:
            if exc.response.get("error") == "name_taken" and attempt < NAME_TRIES:
                continue
            raise
        channel = response.get("channel") or {}
        return {"ok": True, "channel": str(channel.get("id", "")), "name": channel.get("name")}
    raise AssertionError("unreachable")


async def _invite(client: Api, args: dict[str, Any]) -> dict[str, Any]:
    """One user at a time: Slack refuses a whole list for one user already there."""
    users: list[str] = []
    for principal in str(args.get("users", "")).split(","):
        principal = principal.strip()
        if principal.startswith("S"):
            try:
                # A read: form-encoded, as Slack's read methods take (not JSON).
                got = await client.usergroups_users_list(usergroup=principal)
            except SlackApiError:
                continue  # a group that cannot be read adds nobody
            users.extend(str(u) for u in got.get("users") or [])
        elif principal:
            users.append(principal)
    invited = []
    for user in list(dict.fromkeys(users))[:MAX_INVITES]:
        try:
            result = await _tolerant(
                client, "conversations.invite", {"channel": args["channel"], "users": user}
            )
        except SlackApiError as exc:
            status = getattr(exc.response, "status_code", 200)
            if status == 429 or status >= 500 or exc.response.get("error") == "ratelimited":
                raise  # the whole row again later; those already in answer already_in_channel
            log.warning("could not invite %s: %s", user, exc.response.get("error"))
            continue  # a deactivated user or a bot must not keep the others out
        if not result.get("already"):
            invited.append(user)
    return {"ok": True, "channel": args["channel"], "invited": invited}


async def _tolerant(client: Api, method: str, args: dict[str, Any]) -> dict[str, Any]:
    try:
        response = await CALLS[method](client, args)
    except SlackApiError as exc:
        if exc.response.get("error") in DONE_ALREADY.get(method, ()):
            return {"ok": True, "already": True, "channel": args.get("channel")}
        raise
    del response
    return {"ok": True, "channel": args.get("channel")}

"""The payloads Slack sends to an app, built from the emulated workspace.

Slash commands arrive form-encoded, Events API callbacks as a JSON envelope, and
interactivity (button clicks) as a form with one `payload` field holding JSON. Bolt
parses each by its documented shape, so these builders follow Slack's documentation
field by field; the emulator signs and sends what they return.
"""

from __future__ import annotations

import copy
import secrets
import string
from typing import Any

from bot.sandbox.store import (
    APP_ID,
    BOT_USER_ID,
    JSON,
    TEAM_DOMAIN,
    TEAM_ID,
    VERIFICATION_TOKEN,
    Channel,
    Message,
    User,
)

_ID_ALPHABET = string.ascii_uppercase + string.digits


def random_id(prefix: str, length: int = 10) -> str:
    """A Slack-looking id that stays unique across sandbox runs.

    The bot dedupes events by id in its database, which outlives one emulator, so a
    counter restarting at 1 would make a fresh run's events look like retries.
    """
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def trigger_id() -> str:
    return f"{secrets.randbelow(10**11)}.{secrets.randbelow(10**11)}.{secrets.token_hex(16)}"


def slash_command(
    *,
    command: str,
    text: str,
    user: User,
    channel: Channel,
    response_url: str,
) -> dict[str, str]:
    """The form fields of a slash command invocation."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel.id,
        "channel_name": channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id(),
    }


def reaction_event(
    *,
    user: str,
    reaction: str,
    channel: str,
    ts: str,
    item_user: str | None,
    removed: bool,
    event_id: str,
    event_ts: str,
    event_time: int,
) -> JSON:
    """An Events API `event_callback` envelope for reaction_added / reaction_removed."""
    event: JSON = {
        "type": "reaction_removed" if removed else "reaction_added",
        "user": user,
        "reaction": reaction,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": event_ts,
    }
    if item_user is not None:
        event["item_user"] = item_user
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def with_block_ids(blocks: list[JSON]) -> list[JSON]:
    """The blocks as Slack hands them back: every block has a block_id.

    Slack fills in ids the sender left out; the emulator stores blocks as the bot sent
    them (so tests compare them as built) and fills stable ones only in payloads.
    """
    filled = copy.deepcopy(blocks)
    for index, block in enumerate(filled):
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = f"blk{index}"
    return filled


def find_element(blocks: list[JSON], action_id: str) -> tuple[str, JSON] | None:
    """The block id and element carrying `action_id`, in actions or as an accessory."""
    for block in with_block_ids(blocks):
        candidates: list[Any] = []
        if block.get("type") == "actions" and isinstance(block.get("elements"), list):
            candidates = block["elements"]
        elif isinstance(block.get("accessory"), dict):
            candidates = [block["accessory"]]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block["block_id"]), element
    return None


def block_actions(
    *,
    user: User,
    channel: Channel,
    message: Message,
    action_id: str,
    block_id: str,
    element: JSON | None,
    value: str,
    response_url: str,
    action_ts: str,
) -> JSON:
    """The `block_actions` interactivity payload for a button click on a message."""
    stored: JSON = {
        "type": "message",
        "user": message.user,
        "ts": message.ts,
        "text": message.text,
        "blocks": with_block_ids(message.blocks),
    }
    if message.thread_ts is not None:
        stored["thread_ts"] = message.thread_ts
    action: JSON = {
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "type": "button",
        "action_ts": action_ts,
    }
    if element is not None and isinstance(element.get("text"), dict):
        action["text"] = element["text"]
    if element is not None and element.get("type") in ("overflow", "static_select"):
        # A menu sends the option chosen, not a value of its own.
        action["type"] = element["type"]
        action["selected_option"] = _option(element, value)
        del action["value"]
    return {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel.id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel.id, "name": channel.name},
        "message": stored,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


def _option(element: JSON, value: str) -> JSON:
    options = element.get("options")
    for option in options if isinstance(options, list) else []:
        if isinstance(option, dict) and option.get("value") == value:
            return option
    return {"text": {"type": "plain_text", "text": value}, "value": value}

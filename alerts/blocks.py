"""Block Kit pieces every message is built from, and the limits Slack holds them to.

Slack rejects a message with more than 50 blocks or a section over 3,000 characters, and
a rejected alert is a lost alert, so every piece here is clipped to its limit.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_HEADER = 150
MAX_CONTEXT_ELEMENT = 2000
MAX_FALLBACK = 3000
MAX_IMAGE_URL = 3000

Block = dict[str, Any]

# A block the message is whole without (an image): the outbox sends the message again
# without it when Slack refuses it, rather than losing the message (bot/slack/outbox).
OPTIONAL_BLOCK_ID = "optional:"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mention_markup(principal: str) -> str:
    """Slack markup that notifies a user (U.../W...) or a user group (S...)."""
    return f"<!subteam^{principal}>" if principal.startswith("S") else f"<@{principal}>"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}


def packed_sections(lines: list[str]) -> list[Block]:
    """Pack lines into as few sections as fit in 3,000 characters each."""
    sections: list[Block] = []
    current = ""
    for line in lines:
        line = clip(line, MAX_SECTION)
        if current and len(current) + 1 + len(line) > MAX_SECTION:
            sections.append(section(current))
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        sections.append(section(current))
    return sections


def context(text: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(text, MAX_CONTEXT_ELEMENT)}],
    }


def mrkdwn_field(name: str, value: str) -> Block:
    """One of a section's fields: its name in bold over its value."""
    return {"type": "mrkdwn", "text": clip(f"*{name}*\n{value}", MAX_FIELD)}


def button(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def actions(block_id: str, elements: list[Block]) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": elements}


def plain_header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER)}}

"""Block Kit as readable terminal text.

In sandbox mode there is no Slack client to look at, so every message the bot posts
is printed. Block Kit JSON is unreadable at a glance; this turns it into what a person
would see: a title line, the section text and fields, context lines, a rule for a
divider and `[Acknowledge] [Silence 1h]` for buttons. Slack's control sequences (links,
mentions, dates, escapes) become what Slack would show; *bold* and `code` stay as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.sandbox.store import Message

RULE = "-" * 40
INDENT = "    "


def render_text(message: Message, replies: Iterable[Message] = ()) -> str:
    """The message as plain text; its thread replies (if given) indented below.

    A message that is itself a reply is indented, so printing messages one by one as
    they are posted still shows the thread structure.
    """
    lines = render_blocks(message.blocks, message.text).splitlines() or [""]
    if message.ephemeral_user is not None:
        lines[0] = f"(only visible to {message.ephemeral_user}) {lines[0]}"
    if message.deleted:
        lines = ["[deleted]"]
    for shared in message.files:
        lines.append(
            f"[file: {shared.get('title') or shared.get('name')}, {shared.get('size')} bytes]"
        )
    if message.reactions:
        lines.append(
            " ".join(f":{name}: {len(users)}" for name, users in message.reactions.items())
        )
    if message.is_reply:
        lines = [INDENT + line if line else line for line in lines]
    out = "\n".join(lines)
    for reply in replies:
        out += "\n" + render_text(reply)
    return out


def render_blocks(blocks: Sequence[Mapping[str, Any]], text: str = "") -> str:
    """Blocks as text lines, or `text` when the blocks render to nothing."""
    lines: list[str] = []
    for block in blocks:
        lines.extend(_block(block))
    rendered = "\n".join(lines).strip("\n")
    return plain(rendered or text)


_CONTROL = re.compile(r"<([^<>]*)>")


def plain(mrkdwn: str) -> str:
    """Slack's `<...>` sequences as Slack displays them, then its three escapes undone."""

    def show(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!subteam^"):
            return "@" + (label or target.removeprefix("!subteam^"))
        if target.startswith("!"):
            return "@" + target[1:]
        if target.startswith(("@", "#")):
            return label or target
        return f"{label} ({target})" if label else target

    text = _CONTROL.sub(show, mrkdwn)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: object) -> str:
    if isinstance(obj, Mapping):
        value = obj.get("text")
        if isinstance(value, str):
            return value
    return ""


def _block(block: Mapping[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = _text(block.get("text"))
        return [title, "=" * len(title)]
    if kind == "section":
        lines = _text(block.get("text")).splitlines()
        fields = block.get("fields")
        if isinstance(fields, list):
            # Fields are "label\nvalue" pairs shown side by side in Slack.
            lines.extend(" ".join(_text(f).split("\n")) for f in fields)
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping) and accessory.get("type") != "image":
            lines.append(_element(accessory))
        return lines
    if kind == "context":
        parts = [_context_part(e) for e in _list(block.get("elements"))]
        return [" | ".join(p for p in parts if p)]
    if kind == "divider":
        return [RULE]
    if kind == "actions":
        return [" ".join(_element(e) for e in _list(block.get("elements")))]
    if kind == "image":
        return [f"[image: {block.get('alt_text', '')}]"]
    if kind == "markdown":
        text = block.get("text")
        return str(text).splitlines() if text else []
    if kind == "rich_text":
        return "".join(_rich(e) for e in _list(block.get("elements"))).splitlines()
    if kind == "input":
        return [f"{_text(block.get('label'))}: ____"]
    return []


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _context_part(element: object) -> str:
    if isinstance(element, Mapping) and element.get("type") == "image":
        return f"[{element.get('alt_text', 'image')}]"
    return _text(element)


def _element(element: object) -> str:
    if not isinstance(element, Mapping):
        return ""
    label = _text(element.get("text")) or _text(element.get("placeholder"))
    if element.get("type") == "overflow":
        label = "..."
    return f"[{label or element.get('type', '?')}]"


def _rich(element: object) -> str:
    """Text of a rich_text element tree: sections, lists, quotes and their leaves."""
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    if kind == "text" or kind == "link":
        return str(element.get("text") or element.get("url") or "")
    if kind == "user":
        return f"<@{element.get('user_id', '')}>"
    if kind == "usergroup":
        return f"<!subteam^{element.get('usergroup_id', '')}>"
    if kind == "channel":
        return f"<#{element.get('channel_id', '')}>"
    if kind == "emoji":
        return f":{element.get('name', '')}:"
    children = _list(element.get("elements"))
    if kind == "rich_text_list":
        return "".join("• " + _rich(e) for e in children)
    inner = "".join(_rich(e) for e in children)
    return inner if inner.endswith("\n") else inner + "\n"

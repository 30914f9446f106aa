"""Sending a message again without the optional blocks Slack refused.

Slack refuses a whole message (`invalid_blocks`) when one block is wrong, and the common
case is an image it cannot download: a Grafana `imageURL` on an internal Grafana. A lost
P0 for a missing picture is the wrong trade, so a block the renderer marked optional
(block_id starting with alerts.blocks.OPTIONAL_BLOCK_ID) or any image is dropped when
Slack's `errors` name it, and the message goes again; the thread is told the image is
unavailable. A refusal that names a block the message needs stays a refusal.
"""

from __future__ import annotations

import re
from typing import Any

from alerts.blocks import OPTIONAL_BLOCK_ID

# Slack's errors end with "[json-pointer:/blocks/3/image_url]".
_POINTER = re.compile(r"\[json-pointer:/blocks/(\d+)((?:/[^\]]*)?)\]")
MAX_RESENDS = 3  # each answer names what it found wrong; a message has few images


def without_refused(blocks: list[Any], errors: list[str]) -> tuple[list[Any], list[str]] | None:
    """The blocks without those Slack's `errors` name, and the kinds dropped; None when an
    error names a block that is not optional (or no block at all)."""
    drop: set[int] = set()
    accessories: set[int] = set()
    kinds: list[str] = []
    if not errors:
        return None
    for error in errors:
        found = _POINTER.search(error)
        if found is None:
            return None
        index, rest = int(found.group(1)), found.group(2)
        if index >= len(blocks) or not isinstance(blocks[index], dict):
            return None
        block = blocks[index]
        if rest.startswith("/accessory") and _is_image(block.get("accessory")):
            accessories.add(index)
            kinds.append("image")
        elif _is_optional(block):
            drop.add(index)
            kinds.append("image" if block.get("type") == "image" else "optional")
        else:
            return None
    kept: list[Any] = []
    for index, block in enumerate(blocks):
        if index in drop:
            continue
        if index in accessories:
            block = {k: v for k, v in block.items() if k != "accessory"}
        kept.append(block)
    return kept, sorted(set(kinds))


def _is_image(value: object) -> bool:
    return isinstance(value, dict) and value.get("type") == "image"


def _is_optional(block: dict[str, Any]) -> bool:
    block_id = block.get("block_id")
    marked = isinstance(block_id, str) and block_id.startswith(OPTIONAL_BLOCK_ID)
    return marked or _is_image(block)

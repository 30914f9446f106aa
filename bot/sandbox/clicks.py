"""Finding what a person means to click: a button by its label or action id, on a message
by its ts or as "the latest in the channel that has it".

People read labels ("Acknowledge"), not action ids and pipe-separated values, and a
thread's newest message is rarely the one whose ts they copied. The block id and the
value come from the element itself, so a click is exactly the one Slack would send.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bot.sandbox.payloads import with_block_ids
from bot.sandbox.store import JSON, Message, Store

LATEST = "latest"


@dataclass(frozen=True)
class Target:
    message: Message
    block_id: str
    element: JSON

    @property
    def action_id(self) -> str:
        return str(self.element.get("action_id", ""))

    @property
    def value(self) -> str:
        return str(self.element.get("value", ""))


def elements(message: Message) -> Iterator[tuple[str, JSON]]:
    """(block id, element) for every interactive element of the message."""
    for block in with_block_ids(message.blocks):
        candidates: list[object] = []
        if block.get("type") == "actions" and isinstance(block.get("elements"), list):
            candidates = block["elements"]
        elif isinstance(block.get("accessory"), dict):
            candidates = [block["accessory"]]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id"):
                yield str(block["block_id"]), element


def label_of(element: JSON) -> str:
    text = element.get("text")
    return str(text.get("text", "")) if isinstance(text, dict) else ""


def _matches(element: JSON, wanted: str) -> bool:
    return element.get("action_id") == wanted or label_of(element).casefold() == wanted.casefold()


def find_target(store: Store, channel: str, ts: str, wanted: str) -> Target:
    """The element `wanted` names (action id or label); LookupError says what there is."""
    if ts == LATEST:
        candidates = [m for m in reversed(store.channel_messages.get(channel, [])) if not m.deleted]
    else:
        found = store.find(channel, ts)
        if found is None:
            raise LookupError(
                f"no message {ts} in {channel}; `chatops sandbox messages` lists them"
            )
        candidates = [found]
    for message in candidates:
        for block_id, element in elements(message):
            if _matches(element, wanted):
                return Target(message, block_id, element)
    shown = sorted(
        {
            f"{label_of(e) or '?'} ({e.get('action_id')})"
            for m in candidates[:1]
            if ts != LATEST
            for _, e in elements(m)
        }
    )
    where = f"message {ts}" if ts != LATEST else f"any message in {channel}"
    choices = f"; it has: {', '.join(shown)}" if shown else ""
    raise LookupError(f"no button {wanted!r} on {where}{choices}")

"""Block Kit validation with Slack's documented limits.

Slack rejects a whole message (`invalid_blocks`) when one block breaks a limit, and an
alert or approval message that fails to post is an outage of the bot. The renderers in
`alerts/` and `commands/` build Block Kit by hand, so the emulator checks the limits
Slack documents and reports them in Slack's own form, `"<reason> [json-pointer:/...]"`,
so a failing test names the offending field.

Only what messages may contain is checked in depth (section, header, actions, context,
divider, image, markdown); the other message blocks are accepted as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_BLOCKS = 50
MAX_BLOCK_ID = 255
SECTION_TEXT_MAX = 3000
SECTION_FIELD_MAX = 2000
SECTION_FIELDS_MAX = 10
HEADER_TEXT_MAX = 150
ACTIONS_ELEMENTS_MAX = 25
CONTEXT_ELEMENTS_MAX = 10
MARKDOWN_TEXT_MAX = 12000
BUTTON_TEXT_MAX = 75
ACTION_ID_MAX = 255
BUTTON_VALUE_MAX = 2000
BUTTON_URL_MAX = 3000

_SHALLOW_BLOCKS = {"file", "input", "rich_text", "video", "table"}
_TEXT_TYPES = {"plain_text", "mrkdwn"}
# Interactive elements an actions block (or a section accessory) may hold.
_ELEMENTS = {
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "overflow",
    "radio_buttons",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "timepicker",
    "workflow_button",
}


class BlocksFormatError(ValueError):
    """`blocks` is not a JSON array (Slack's `invalid_blocks_format`)."""


def parse_blocks(raw: object) -> list[Any] | None:
    """The blocks argument as a list; None when absent.

    Form-encoded calls carry blocks as a JSON string, JSON calls as an array.
    """
    if raw is None:
        return None
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise BlocksFormatError(str(exc)) from exc
    if not isinstance(value, list):
        raise BlocksFormatError(f"expected a JSON array, got {type(value).__name__}")
    return value


def _too_many(limit: int) -> str:
    """Slack's words for a list over its limit (as its answers to real apps show)."""
    return f"no more than {limit} items allowed"


def validate_blocks(
    blocks: list[Any], fetchable: Callable[[str], bool] = lambda url: True
) -> list[str]:
    """Every limit the blocks break, in Slack's error form; empty when valid. An image
    whose URL `fetchable` says Slack could not download is refused as Slack refuses it."""
    checker = _Checker(fetchable)
    if len(blocks) > MAX_BLOCKS:
        checker.fail("/blocks", _too_many(MAX_BLOCKS))
    seen_ids: set[str] = set()
    for index, block in enumerate(blocks):
        checker.block(block, f"/blocks/{index}", seen_ids)
    return checker.errors


class _Checker:
    def __init__(self, fetchable: Callable[[str], bool]) -> None:
        self.errors: list[str] = []
        self._fetchable = fetchable

    def fail(self, pointer: str, reason: str) -> None:
        self.errors.append(f"{reason} [json-pointer:{pointer}]")

    def block(self, block: object, at: str, seen_ids: set[str]) -> None:
        if not isinstance(block, dict):
            self.fail(at, "expected an object")
            return
        kind = block.get("type")
        if not isinstance(kind, str):
            self.fail(f"{at}/type", "missing required field: type")
            return
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id:
                self.fail(f"{at}/block_id", "must be a non-empty string")
            elif len(block_id) > MAX_BLOCK_ID:
                self.fail(f"{at}/block_id", f"must be less than {MAX_BLOCK_ID + 1} characters")
            elif block_id in seen_ids:
                # Slack needs block ids unique so interactions can name their block.
                self.fail(f"{at}/block_id", f"duplicate block_id: {block_id}")
            else:
                seen_ids.add(block_id)
        if kind == "section":
            self.section(block, at)
        elif kind == "header":
            self.text_object(
                block.get("text"), f"{at}/text", max_len=HEADER_TEXT_MAX, plain_only=True
            )
        elif kind == "actions":
            self.elements(block.get("elements"), at, ACTIONS_ELEMENTS_MAX, self.element)
        elif kind == "context":
            self.elements(block.get("elements"), at, CONTEXT_ELEMENTS_MAX, self.context_element)
        elif kind == "image":
            self.image(block, at)
        elif kind == "markdown":
            text = block.get("text")
            if not isinstance(text, str) or not text:
                self.fail(f"{at}/text", "missing required field: text")
            elif len(text) > MARKDOWN_TEXT_MAX:
                self.fail(f"{at}/text", f"must be less than {MARKDOWN_TEXT_MAX + 1} characters")
        elif kind != "divider" and kind not in _SHALLOW_BLOCKS:
            self.fail(f"{at}/type", f"unsupported type: {kind}")

    def section(self, block: dict[str, Any], at: str) -> None:
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            self.fail(at, "must provide either text or fields")
        if text is not None:
            self.text_object(text, f"{at}/text", max_len=SECTION_TEXT_MAX)
        if fields is not None:
            if not isinstance(fields, list) or not fields:
                self.fail(f"{at}/fields", "must be a non-empty array")
            else:
                if len(fields) > SECTION_FIELDS_MAX:
                    self.fail(f"{at}/fields", _too_many(SECTION_FIELDS_MAX))
                for i, field in enumerate(fields):
                    self.text_object(field, f"{at}/fields/{i}", max_len=SECTION_FIELD_MAX)
        accessory = block.get("accessory")
        if accessory is not None:
            if isinstance(accessory, dict) and accessory.get("type") == "image":
                self.image(accessory, f"{at}/accessory")
            else:
                self.element(accessory, f"{at}/accessory", set())

    def text_object(self, obj: object, at: str, *, max_len: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.fail(at, "must be a text object")
            return
        kind = obj.get("type")
        allowed = {"plain_text"} if plain_only else _TEXT_TYPES
        if kind not in allowed:
            self.fail(f"{at}/type", f"must be one of {sorted(allowed)}")
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.fail(f"{at}/text", "must be a non-empty string")
        elif len(text) > max_len:
            self.fail(f"{at}/text", f"must be less than {max_len + 1} characters")

    def elements(
        self,
        elements: object,
        at: str,
        limit: int,
        check: Callable[[object, str, set[str]], None],
    ) -> None:
        if not isinstance(elements, list) or not elements:
            self.fail(f"{at}/elements", "must be a non-empty array")
            return
        if len(elements) > limit:
            self.fail(f"{at}/elements", _too_many(limit))
        action_ids: set[str] = set()
        for i, element in enumerate(elements):
            check(element, f"{at}/elements/{i}", action_ids)

    def element(self, element: object, at: str, action_ids: set[str]) -> None:
        if not isinstance(element, dict):
            self.fail(at, "expected an object")
            return
        kind = element.get("type")
        if kind not in _ELEMENTS:
            self.fail(f"{at}/type", f"unsupported type: {kind}")
            return
        action_id = element.get("action_id")
        if action_id is not None:
            if not isinstance(action_id, str) or len(action_id) > ACTION_ID_MAX:
                self.fail(f"{at}/action_id", f"must be less than {ACTION_ID_MAX + 1} characters")
            elif action_id in action_ids:
                # Within one block Slack needs action ids unique to route the click.
                self.fail(f"{at}/action_id", f"duplicate action_id: {action_id}")
            else:
                action_ids.add(action_id)
        if kind == "button":
            self.text_object(
                element.get("text"), f"{at}/text", max_len=BUTTON_TEXT_MAX, plain_only=True
            )
            value = element.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > BUTTON_VALUE_MAX):
                self.fail(f"{at}/value", f"must be less than {BUTTON_VALUE_MAX + 1} characters")
            url = element.get("url")
            if url is not None and (not isinstance(url, str) or len(url) > BUTTON_URL_MAX):
                self.fail(f"{at}/url", f"must be less than {BUTTON_URL_MAX + 1} characters")
            style = element.get("style")
            if style is not None and style not in ("primary", "danger"):
                self.fail(f"{at}/style", "must be one of ['danger', 'primary']")

    def context_element(self, element: object, at: str, _ids: set[str]) -> None:
        if isinstance(element, dict) and element.get("type") == "image":
            self.image(element, at)
        else:
            self.text_object(element, at, max_len=SECTION_TEXT_MAX)

    def image(self, obj: dict[str, Any], at: str) -> None:
        if not isinstance(obj.get("alt_text"), str):
            self.fail(f"{at}/alt_text", "missing required field: alt_text")
        url = obj.get("image_url")
        if not isinstance(url, str) and not isinstance(obj.get("slack_file"), dict):
            self.fail(at, "must provide either image_url or slack_file")
        elif isinstance(url, str) and not self._fetchable(url):
            # Slack downloads the image while posting and refuses the whole message.
            self.fail(f"{at}/image_url", "downloading image failed")

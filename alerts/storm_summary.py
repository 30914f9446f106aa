"""The storm summary: every folded alert group of a channel named in one message.

A storm folds hundreds of groups into one message, so each group gets a few words, not
a card: the groups are gathered into one line per alertname and service ("*HighLatency*
· api · 12 firing: eu-1, eu-2, ..."), the lines with the newest changes first, packed
into as many sections as Slack's limits allow (50 blocks, 3,000 characters a section:
several hundred names). Everything a group says is outside text and is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts import messages as m
from alerts.blocks import (
    MAX_BLOCKS,
    MAX_FALLBACK,
    MAX_HEADER,
    Block,
    button,
    clip,
    packed_sections,
    section,
)
from alerts.slack_text import escape

RESERVED_BLOCKS = 3  # the header, the footer and the actions row
MAX_OPTIONS = 100  # Slack: options in a static_select
MAX_OPTION_TEXT = 75  # Slack: characters of an option's text


@dataclass(frozen=True)
class StormItem:
    group_id: int
    alertname: str
    service: str
    scope: str  # what tells the group apart from others of its alertname and service
    status: str  # firing | resolved
    changed_at: datetime
    own_message: bool = False  # rose to P0/P1 or was opened: it has a message of its own
    acked: bool = False


def _line(items: Sequence[StormItem]) -> str:
    first = items[0]
    firing = sum(1 for i in items if i.status == "firing")
    icon = "•" if firing else m.RESOLVED_ICON
    head = f"{icon} *{escape(first.alertname)}*"
    if first.service:
        head += f" · {escape(first.service)}"
    counts = [m.STORM_FIRING.format(count=firing)] if firing else []
    if len(items) - firing:
        counts.append(m.STORM_RESOLVED.format(count=len(items) - firing))
    acked = sum(1 for i in items if i.acked and i.status == "firing")
    if acked:
        counts.append(m.STORM_ACKED.format(count=acked))
    if len(items) == 1 and not first.scope and not first.own_message:
        return f"{head} · {', '.join(counts)}"  # the alertname and service name the group
    names = []
    for item in items:
        name = escape(item.scope) if item.scope else f"#{item.group_id}"
        if item.status != "firing":
            name = f"~{name}~"
        if item.own_message:
            name += f" ({m.STORM_OWN_MESSAGE})"
        names.append(name)
    return f"{head} · {', '.join(counts)}: {', '.join(names)}"


def summary_lines(items: Sequence[StormItem]) -> list[str]:
    """One line per alertname and service, the line with the newest change first."""
    lines: dict[tuple[str, str], list[StormItem]] = {}
    for item in sorted(items, key=lambda i: (i.changed_at, i.group_id), reverse=True):
        lines.setdefault((item.alertname, item.service), []).append(item)
    return [_line(group) for group in lines.values()]


def actionable(items: Sequence[StormItem]) -> list[StormItem]:
    """The groups the summary's controls act on: firing, without a message of their own."""
    return [i for i in items if i.status == "firing" and not i.own_message]


def item_title(item: StormItem) -> str:
    return " · ".join(part for part in (item.alertname, item.service, item.scope) if part)


def storm_actions(storm_id: int, items: Sequence[StormItem]) -> Block:
    """Acknowledge all, Silence all 1h, and a menu that opens one group in the thread."""
    elements: list[Block] = [
        button(m.STORM_ACK_ALL, "storm.ack_all", str(storm_id), style="primary"),
        button(m.STORM_SILENCE_ALL, "storm.silence_all", str(storm_id)),
    ]
    newest = sorted(items, key=lambda i: (i.changed_at, i.group_id), reverse=True)
    options = [
        {
            "text": {"type": "plain_text", "text": clip(item_title(i), MAX_OPTION_TEXT)},
            "value": str(i.group_id),
        }
        for i in newest[:MAX_OPTIONS]
    ]
    if options:
        elements.append(
            {
                "type": "static_select",
                "action_id": "storm.open",
                "placeholder": {"type": "plain_text", "text": m.STORM_OPEN},
                "options": options,
            }
        )
    return {"type": "actions", "block_id": f"storm-actions-{storm_id}", "elements": elements}


def render_storm(
    items: Sequence[StormItem],
    *,
    threshold: int,
    over: bool = False,
    storm_id: int | None = None,
) -> dict[str, Any]:
    """The summary message, rewritten in place as groups fold, change and resolve."""
    firing = actionable(items)
    if over:
        heading = m.STORM_OVER_TITLE.format(count=len(items), firing=len(firing))
    else:
        heading = m.STORM_TITLE.format(count=len(firing))
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(heading, MAX_HEADER)}}
    ]
    sections = packed_sections(summary_lines(items))
    room = MAX_BLOCKS - RESERVED_BLOCKS
    if len(sections) > room:  # past several hundred names: say how many lines are left out
        left_out = sum(s["text"]["text"].count("\n") + 1 for s in sections[room - 1 :])
        sections = [*sections[: room - 1], *packed_sections([m.STORM_MORE.format(count=left_out)])]
    blocks.extend(sections)
    footer = m.STORM_OVER_FOOTER if over else m.STORM_FOOTER.format(threshold=threshold)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    if storm_id is not None and firing:
        blocks.append(storm_actions(storm_id, firing))
    names = ", ".join(escape(i.alertname + (f" {i.scope}" if i.scope else "")) for i in firing[:10])
    fallback = f"{heading}: {names}" if names else heading
    return {"text": clip(fallback, MAX_FALLBACK), "blocks": blocks}


def render_names(items: Sequence[StormItem]) -> dict[str, Any]:
    """A reply in the summary's thread naming groups the summary does not list yet
    (bot/alerts/storm_names.py), in the summary's own lines."""
    if not items:
        return {"text": m.STORM_NAMES_NONE, "blocks": [section(m.STORM_NAMES_NONE)]}
    heading = m.STORM_NAMES.format(count=len(items))
    sections = packed_sections(summary_lines(items))
    if len(sections) > MAX_BLOCKS - 1:
        left_out = sum(s["text"]["text"].count("\n") + 1 for s in sections[MAX_BLOCKS - 2 :])
        more = packed_sections([m.STORM_MORE.format(count=left_out)])
        sections = [*sections[: MAX_BLOCKS - 2], *more]
    names = ", ".join(escape(item_title(i)) for i in items)
    return {
        "text": clip(f"{heading}: {names}", MAX_FALLBACK),
        "blocks": [section(f"*{heading}*"), *sections],
    }

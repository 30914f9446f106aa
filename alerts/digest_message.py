"""The digest: one message per channel gathering its low-priority groups (plain data).

Rewritten in place on every change (bot/escalation/digest.py), so P3 groups are seen
without a post each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alerts import messages as m
from alerts.blocks import (
    MAX_BLOCKS,
    MAX_FALLBACK,
    Block,
    clip,
    context,
    packed_sections,
    plain_header,
    section,
)
from alerts.durations import format_duration
from alerts.slack_text import escape


@dataclass(frozen=True)
class DigestItem:
    group_id: int
    priority: str
    status: str
    name: str
    summary: str
    firing_since: datetime
    resolved_at: datetime | None = None


def render_digest(items: list[DigestItem], now: datetime, *, every: str) -> dict[str, Any]:
    """One message per channel gathering the low-priority groups, rewritten in place."""
    firing = [item for item in items if item.status == "firing"]
    lines = []
    for item in items:
        icon = m.RESOLVED_ICON if item.status != "firing" else "•"
        age = format_duration((item.resolved_at or now) - item.firing_since)
        summary = f" — {escape(item.summary)}" if item.summary else ""
        lines.append(f"{icon} *{escape(item.name)}*{summary} _({item.status} {age})_")
    title_text = m.DIGEST_TITLE.format(count=len(firing))
    blocks: list[Block] = [plain_header(title_text)]
    if lines:
        shown = packed_sections(lines)[: MAX_BLOCKS - 3]
        blocks.extend(shown)
    else:
        blocks.append(section(m.DIGEST_EMPTY))
    blocks.append(context(m.DIGEST_FOOTER.format(every=every)))
    return {"text": clip(title_text, MAX_FALLBACK), "blocks": blocks}

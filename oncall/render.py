"""What `/oncall` answers and what a handoff says, as Slack text and Block Kit.

Every name, schedule and policy comes from PagerDuty and is escaped; people the bot can
map to Slack are mentions (the caller passes `mention`, already resolved).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from alerts.blocks import actions, button, context, section
from alerts.slack_text import escape
from oncall.levels import Level, Person

Mention = Callable[[Person], str]

PAGE_ACTION = "oncall.page"
UNAVAILABLE = "PagerDuty did not answer; last known on-call{as_of}:"
NEVER_KNOWN = "PagerDuty did not answer, and no on-call is known for {name} yet."
WHY = "PagerDuty: {error}."
UNKNOWN = "No schedule or service called {name}. Known: {known}."
NOTHING_KNOWN = "No schedule or PagerDuty service is configured (`oncall.schedules`)."
NOBODY = "nobody"
HANDOFF = "On call for {name} is now {people}{until} (was {previous})"


def moment(at: datetime, tz: tzinfo, now: datetime) -> str:
    """'Mon 09:00' within the coming week, else 'Mon 12 Jan 09:00', in the reader's zone."""
    local = at.astimezone(tz)
    if abs(at - now) < timedelta(days=6):
        return local.strftime("%a %H:%M")
    return local.strftime("%a %d %b %H:%M")


def people(persons: Sequence[Person], mention: Mention) -> str:
    return ", ".join(mention(p) for p in persons) or NOBODY


def level_line(level: Level, mention: Mention, tz: tzinfo, now: datetime) -> str:
    where = f" ({escape(level.schedule)})" if level.schedule else ""
    line = f"Level {level.level}{where}: {people(level.now, mention)}"
    if level.until is not None:
        line += f" until {moment(level.until, tz, now)}"
        if level.next:
            line += f", then {people(level.next, mention)}"
    elif level.now:
        line += " (no end)"
    return line


def _lines(levels: Sequence[Level], mention: Mention, tz: tzinfo, now: datetime) -> list[str]:
    lines: list[str] = []
    policy = None
    for level in levels:
        if level.policy != policy:
            policy = level.policy
            lines.append(f"_{escape(policy)}_")
        lines.append(level_line(level, mention, tz, now))
    return lines or [f"{NOBODY} is on call"]


def tz_note(tz: tzinfo, now: datetime) -> str:
    return f"Times in {escape(str(tz))} (your Slack time zone)." if str(tz) else ""


def answer(
    title: str,
    levels: Sequence[Level],
    mention: Mention,
    tz: tzinfo,
    now: datetime,
    *,
    page_value: str | None = None,
) -> dict[str, Any]:
    """The ephemeral answer; `page_value` adds "Page them" (for responders, nothing open)."""
    header = f"*On call for {escape(title)}*"
    lines = [header, *_lines(levels, mention, tz, now)]
    text = "\n".join(lines)
    blocks = [section(text), context(tz_note(tz, now))]
    if page_value is not None:
        blocks.append(
            actions("oncall", [button("Page them", PAGE_ACTION, page_value, style="danger")])
        )
    return {"text": text, "blocks": blocks}


def unavailable(
    title: str,
    levels: Sequence[Level] | None,
    fetched_at: datetime | None,
    error: str,
    mention: Mention,
    tz: tzinfo,
    now: datetime,
) -> dict[str, Any]:
    """PagerDuty unreachable or refusing: the last answer it gave, and when."""
    why = context(WHY.format(error=escape(error[:200])))
    if levels is None or fetched_at is None:
        text = NEVER_KNOWN.format(name=escape(title))
        return {"text": text, "blocks": [section(text), why]}
    as_of = f" for {escape(title)} as of {moment(fetched_at, tz, now)}"
    lines = [UNAVAILABLE.format(as_of=as_of), *_lines(levels, mention, tz, now)]
    text = "\n".join(lines)
    return {"text": text, "blocks": [section(text), why, context(tz_note(tz, now))]}


def unknown(name: str, known: Sequence[str]) -> str:
    if not known:
        return NOTHING_KNOWN
    listed = ", ".join(f"`{escape(k)}`" for k in sorted(known))
    return UNKNOWN.format(name=f"`{escape(name[:80])}`", known=listed)


def handoff(
    name: str,
    level: Level,
    previous: Sequence[Person],
    mention: Mention,
    tz: tzinfo,
    now: datetime,
) -> str:
    until = f" until {moment(level.until, tz, now)}" if level.until else ""
    return HANDOFF.format(
        name=escape(name),
        people=people(level.now, mention),
        until=until,
        previous=people(previous, mention),
    )

"""`/incident` as typed requests, or a problem that says what to type instead.

Subcommands other than `declare` name their incident by id (`/incident update 12 ...`),
or by no id when typed in the incident's own channel: the parser leaves `incident_id`
None then, and the caller fills it in from the channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from alerts.slack_text import escape
from incidents import messages as m

Severity = Literal["P0", "P1", "P2"]
SEVERITIES: tuple[Severity, ...] = ("P0", "P1", "P2")
Status = Literal["investigating", "identified", "mitigated", "resolved"]
MAX_TITLE = 250  # the longest title; Slack's topic and purpose take 250 characters too
MAX_TEXT = 2000  # an update or action item, well within a section block's 3,000
DEFAULT_SEVERITY: Severity = "P1"

Verb = Literal["update", "lead", "severity", "status", "resolve", "action"]
VERBS: tuple[Verb, ...] = ("update", "lead", "severity", "status", "resolve", "action")
_USER = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$")


@dataclass(frozen=True)
class Declare:
    title: str
    severity: Severity


@dataclass(frozen=True)
class Change:
    """A change to one incident: `value` is the user id, severity, status word or text."""

    verb: Verb
    incident_id: int | None
    value: str


@dataclass(frozen=True)
class Problem:
    text: str


Request = Declare | Change | Problem


def parse(text: str) -> Request:
    words = text.strip().split(None, 1)
    if not words:
        return Problem(m.USAGE)
    verb, rest = words[0].lower(), (words[1] if len(words) > 1 else "").strip()
    if verb == "declare":
        return _declare(rest)
    if verb not in VERBS:
        return Problem(m.UNKNOWN_SUBCOMMAND.format(word=_shown(verb[:40])))
    incident_id, rest = _leading_id(rest)
    return _change(verb, incident_id, rest)


def _declare(rest: str) -> Request:
    severity: Severity = DEFAULT_SEVERITY
    flag = re.search(r"(?:^|\s)--severity(?:=|\s+)(\S+)", rest)
    if flag:
        word = flag.group(1).upper()
        if word not in SEVERITIES:
            return Problem(m.BAD_SEVERITY.format(word=_shown(flag.group(1)[:10])))
        severity = word
        rest = (rest[: flag.start()] + rest[flag.end() :]).strip()
    title = " ".join(rest.split())
    if not title:
        return Problem(m.DECLARE_USAGE)
    if len(title) > MAX_TITLE:
        return Problem(m.TITLE_TOO_LONG.format(length=len(title), limit=MAX_TITLE))
    return Declare(title, severity)


def _leading_id(rest: str) -> tuple[int | None, str]:
    words = rest.split(None, 1)
    if words and words[0].lstrip("#").isdigit() and len(words[0]) <= 12:
        return int(words[0].lstrip("#")), (words[1] if len(words) > 1 else "").strip()
    return None, rest


def _change(verb: Verb, incident_id: int | None, rest: str) -> Request:
    if verb == "lead":
        found = _USER.match(rest)
        if not found:
            return Problem(m.LEAD_USAGE)
        return Change(verb, incident_id, found.group(1))
    if verb == "severity":
        word = rest.upper()
        if word not in SEVERITIES:
            return Problem(m.BAD_SEVERITY.format(word=_shown(rest[:10])))
        return Change(verb, incident_id, word)
    if verb == "status":
        word = rest.lower()
        if word not in ("identified", "mitigated"):
            return Problem(m.STATUS_USAGE)
        return Change(verb, incident_id, word)
    if verb in ("update", "action") and not rest:
        return Problem(m.TEXT_USAGE.format(verb=verb))
    if len(rest) > MAX_TEXT:
        return Problem(m.TEXT_TOO_LONG.format(length=len(rest), limit=MAX_TEXT))
    return Change(verb, incident_id, rest)


def _shown(word: str) -> str:
    """A word of the person's own, shown back in code markup: escaped, no backtick."""
    return escape(word).replace("`", "'")

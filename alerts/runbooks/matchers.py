"""Alertmanager-style label matchers (`name="v"`, `!=`, `=~`, `!~`) for a runbook's `applies_to`.

Runbook authors already write these in their Alertmanager routes and silences, so they
mean here exactly what they mean there: regexes are fully anchored, a missing label is the
empty string, and the quoted value is unescaped the way Alertmanager's parser does it
(`\\"`, `\\\\` and `\\n`; any other backslash stays, so `\\d` reaches the regex intact).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Operator = Literal["=", "!=", "=~", "!~"]
_OPERATORS: dict[str, Operator] = {"=": "=", "!=": "!=", "=~": "=~", "!~": "!~"}

_MATCHER = re.compile(
    r"""\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*""",
    re.DOTALL,
)


class MatcherError(ValueError):
    """The text is not a matcher; the message says what is expected."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Operator
    value: str
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    @property
    def is_regex(self) -> bool:
        return self.op in ("=~", "!~")

    @property
    def is_equal(self) -> bool:
        return self.op in ("=", "=~")

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self._regex is not None:
            hit = self._regex.fullmatch(actual) is not None
        else:
            hit = actual == self.value
        return hit if self.is_equal else not hit

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def _unescape(raw: str) -> str:
    out: list[str] = []
    chars = iter(raw)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        if following == "n":
            out.append("\n")
        elif following in ('"', "\\"):
            out.append(following)
        else:
            # A spurious escape keeps its backslash, as in Alertmanager (regex classes).
            out.append("\\" + following)
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """`alertname=~"Postgres.*"` as a Matcher; MatcherError when it is not one."""
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise MatcherError(
            f'{text.strip()} is not a label matcher; write name="value" with one of =, !=, =~, !~ '
            'and the value in double quotes (service="api")'
        )
    name, op, value = found["name"], _OPERATORS[found["op"]], _unescape(found["value"])
    regex = None
    if op in ("=~", "!~"):
        try:
            # Alertmanager anchors every matcher regex at both ends.
            regex = re.compile(f"(?:{value})")
        except re.error as exc:
            raise MatcherError(f"{text.strip()}: invalid regular expression ({exc.msg})") from None
    return Matcher(name, op, value, regex)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)

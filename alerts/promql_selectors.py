"""Which series an alert's PromQL may ask for, before the bot asks Prometheus for it.

An alert's `generatorURL` is chosen by whoever can post to the webhook (or by a rule
author who never thought of the graph), and its `g0.expr` is what the graph queries. A
selector without a metric name (`{job="api"}`) or with a regex on `__name__`
(`{__name__=~"rt_.+"}`) reaches across metrics: one such alert made Prometheus answer
15 MB over 3,000 series to draw ten lines. Such expressions are refused, with the reason
said in the thread; every other selector names its metric literally, so an expression
reads only the metrics it names.

This reads PromQL's tokens only as far as selectors need: strings, comments, names and
braces. It does not validate the rest (Prometheus does, and says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MATCH_OPS = ("=~", "!~", "!=", "=")
# Words that can stand before `(` or between operands, never as a metric before `{`.
KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
    | {"and", "or", "unless", "atan2"}
)


class SelectorRefused(ValueError):
    """The expression reaches beyond the metrics it names; the message says how."""


@dataclass(frozen=True)
class _Matcher:
    label: str
    op: str


def check_selectors(expr: str) -> None:
    """Raise SelectorRefused when a selector of `expr` has no literal metric name or
    matches `__name__` by a regex."""
    index = 0
    previous = ""  # the last name read, or "" after anything else
    while index < len(expr):
        char = expr[index]
        if char in "\"'`":
            index = _after_string(expr, index)
            previous = ""
        elif char == "#":
            end = expr.find("\n", index)
            index = len(expr) if end < 0 else end
        elif char == "{":
            matchers, index = _matchers(expr, index + 1)
            _check(previous, matchers, expr)
            previous = ""
        elif char.isspace():
            index += 1
        elif char.isdigit() or char == ".":
            # Numbers and durations (`5m`, `1e3`, `0x1f`) are not names.
            index += 1
            while index < len(expr) and (expr[index].isalnum() or expr[index] in "._"):
                index += 1
            previous = ""
        elif found := _NAME.match(expr, index):
            previous = found.group()
            index = found.end()
        else:
            previous = ""
            index += 1


def _check(metric: str, matchers: list[_Matcher], expr: str) -> None:
    names = [m for m in matchers if m.label == "__name__"]
    for matcher in names:
        if matcher.op in ("=~", "!~"):
            raise SelectorRefused(
                f"a selector matches metric names by a regex (`__name__{matcher.op}`): "
                "graphs ask only for the metrics an expression names"
            )
    literal = (metric and metric.lower() not in KEYWORDS) or any(m.op == "=" for m in names)
    if not literal:
        raise SelectorRefused(
            "a selector has no metric name (`{…}` alone reads every metric): "
            "graphs ask only for the metrics an expression names"
        )


def _matchers(expr: str, index: int) -> tuple[list[_Matcher], int]:
    """The matchers of the braces opened just before `index`, and where they end."""
    matchers: list[_Matcher] = []
    while True:
        index = _skip_space(expr, index)
        if index >= len(expr):
            raise SelectorRefused("a selector's braces are not closed")
        if expr[index] == "}":
            return matchers, index + 1
        if expr[index] == ",":
            index += 1
            continue
        if expr[index] in "\"'`":
            # A quoted name (`{"metric.name"}`, Prometheus 3): refused, not guessed at.
            raise SelectorRefused("a selector names its metric in quotes, which is not read")
        label = _LABEL.match(expr, index)
        if label is None:
            raise SelectorRefused("a selector's label matchers cannot be read")
        index = _skip_space(expr, label.end())
        op = next((o for o in _MATCH_OPS if expr.startswith(o, index)), None)
        if op is None:
            raise SelectorRefused("a selector's label matchers cannot be read")
        index = _skip_space(expr, index + len(op))
        if index >= len(expr) or expr[index] not in "\"'`":
            raise SelectorRefused("a selector's label matchers cannot be read")
        index = _after_string(expr, index)
        matchers.append(_Matcher(label.group(), op))


def _skip_space(expr: str, index: int) -> int:
    while index < len(expr) and expr[index].isspace():
        index += 1
    return index


def _after_string(expr: str, index: int) -> int:
    """The index just past the string starting at `index` (its end, if unterminated)."""
    quote = expr[index]
    index += 1
    while index < len(expr):
        if expr[index] == "\\" and quote != "`":
            index += 2
            continue
        if expr[index] == quote:
            return index + 1
        index += 1
    return len(expr)

"""What to graph for an alert: its PromQL expression and threshold, read from generatorURL.

Prometheus links every alert to its rule's expression (`/graph?g0.expr=...`). An alerting
expression is usually "something compared with a number" (`rate(errors[5m]) > 0.05`); a
comparison used as a filter drops every sample on the quiet side, so the graph queries
the left-hand side and draws the number as a threshold line instead.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from alerts.promql_selectors import SelectorRefused, check_selectors

COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_ARITHMETIC = re.compile(r"^[\d\s.eE+\-*/()]{1,64}$")
MAX_EXPR = 4096
MAX_GRAPHS = 1  # one graph per group: a group is almost always one rule


@dataclass(frozen=True)
class GraphQuery:
    expr: str
    """What to query: the alert's expression without its final comparison."""
    threshold: float | None = None
    comparison: str | None = None


def expression_from(generator_url: str) -> str | None:
    """The `g0.expr` of a Prometheus graph link, or None when the link has none."""
    if not generator_url:
        return None
    try:
        parts = urlsplit(generator_url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    values = parse_qs(parts.query).get("g0.expr")
    if not values or not values[0].strip() or len(values[0]) > MAX_EXPR:
        return None
    return values[0].strip()


def limited(expr: str, max_series: int) -> str:
    """`expr` asked for at most `max_series` series per step, the highest. On its own
    lines, so that a `#` comment in `expr` cannot swallow the closing parentheses."""
    return f"topk({max_series}, (\n{expr}\n))"


def graph_query(expr: str) -> GraphQuery:
    """Split `lhs <op> [bool] number` (or `number <op> rhs`) at the top level."""
    found = _top_level_comparison(expr)
    if found is None:
        return GraphQuery(expr)
    start, op = found
    left, right = expr[:start].strip(), expr[start + len(op) :].strip()
    if right.startswith("bool "):
        right = right[len("bool ") :].strip()
    right_value, left_value = _constant(right), _constant(left)
    if right_value is not None and left:
        return GraphQuery(left, right_value, op)
    if left_value is not None and right:
        return GraphQuery(right, left_value, _mirror(op))
    return GraphQuery(expr)


def _constant(text: str) -> float | None:
    """A number, or arithmetic on numbers only (`18 * 3600`), as rule authors write them."""
    if _NUMBER.match(text):
        return float(text)
    if not _ARITHMETIC.match(text):
        return None
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None
    return _evaluate(tree.body)


def _evaluate(node: ast.expr) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _evaluate(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        left, right = _evaluate(node.left), _evaluate(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        return None if right == 0 else left / right
    return None


def _mirror(op: str) -> str:
    return {">": "<", "<": ">", ">=": "<=", "<=": ">="}.get(op, op)


def _top_level_comparison(expr: str) -> tuple[int, str] | None:
    """The last comparison outside parentheses, braces, brackets and strings."""
    depth = 0
    quote: str | None = None
    last: tuple[int, str] | None = None
    index = 0
    while index < len(expr):
        char = expr[index]
        if quote is not None:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            for op in COMPARISONS:
                if expr.startswith(op, index):
                    # `=~` and `!~` only occur inside braces; `!=` at top level compares.
                    last = (index, op)
                    index += len(op) - 1
                    break
        index += 1
    return last


@dataclass(frozen=True)
class GraphPlan:
    """What to draw for an alert group, or why nothing is drawn (`reason`)."""

    prometheus_url: str | None
    queries: tuple[GraphQuery, ...]
    reason: str | None = None


def plan_graph(
    generator_urls: list[str], *, route_url: str | None, default_url: str | None
) -> GraphPlan:
    """The first expression among a group's alerts (a group is almost always one rule)."""
    url = route_url or default_url
    if not url:
        return GraphPlan(None, (), "no Prometheus to ask (PROMETHEUS_URL is not set)")
    exprs: list[str] = []
    for generator_url in generator_urls:
        expr = expression_from(generator_url)
        if expr is not None and expr not in exprs:
            exprs.append(expr)
    if not exprs:
        return GraphPlan(url, (), "the alerts' source link carries no PromQL expression")
    try:
        check_selectors(exprs[0])
    except SelectorRefused as exc:
        return GraphPlan(url, (), f"not drawn, {exc}")
    return GraphPlan(url, tuple(graph_query(e) for e in exprs[:MAX_GRAPHS]))

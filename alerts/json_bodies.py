"""Reading JSON webhook bodies from senders we do not control.

A body nested a hundred thousand levels deep makes `json.loads` raise RecursionError
(not ValueError), and one nested just under the interpreter's limit still breaks every
recursive step after it (validation, storing, rendering). Both are answered as bad input:
the depth is bounded here, measured without recursion. Alertmanager's, Grafana's and
PagerDuty's payloads nest fewer than ten levels.

Python's JSON reader also takes `NaN`, `Infinity` and numbers too large for a float
(`1e999` becomes infinity); JSON has no such values and PostgreSQL's `json` type refuses
them when the body is stored, so they are refused here, as bad input, before anything
else sees them.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
JSON_TYPES = ("application/json",)


class JsonBodyError(ValueError):
    """The body is not JSON a webhook may carry; the message says why."""


class JsonTooDeep(JsonBodyError):
    """Valid or not, the body nests deeper than any webhook payload does."""


class JsonNotFinite(JsonBodyError):
    """The body carries NaN, Infinity or a number no float can hold."""


NOT_FINITE = "body carries NaN, Infinity or a number too large, which JSON does not allow"


def _no_constant(name: str) -> Any:
    raise JsonNotFinite(NOT_FINITE)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonNotFinite(NOT_FINITE)
    return value


def is_json_content_type(mimetype: str) -> bool:
    """`application/json` or a `+json` type; parameters (charset) are stripped already."""
    mimetype = mimetype.strip().lower()
    return mimetype in JSON_TYPES or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def load_json(body: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    try:
        data = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise JsonTooDeep(f"body nests deeper than {max_depth} levels") from None
    except JsonNotFinite:
        raise
    except ValueError:
        raise JsonBodyError("body is not valid JSON") from None
    if nesting_depth(data) > max_depth:
        raise JsonTooDeep(f"body nests deeper than {max_depth} levels")
    return data


def nesting_depth(data: Any) -> int:
    """How many objects and arrays deep `data` goes (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest

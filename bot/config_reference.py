"""The config reference, generated from the config models so that it cannot drift.

`chatops config-reference` prints it; the README's section between the markers is this
output, and a test fails when the two differ (`make docs` rewrites it).
"""

from __future__ import annotations

import re
import types
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from alerts.durations import format_duration
from bot.config import Config

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" (optional)" if type(None) in args else "")
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map {_type_name(args[0])} → {_type_name(args[1])}" if args else "map"
    if isinstance(annotation, type):
        if annotation.__name__ == "timedelta":
            return "duration"
        if issubclass(annotation, BaseModel):
            return "section"
        return annotation.__name__
    return str(annotation)


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return ""
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
        # A default list of sections (e.g. analysis checks): their names, described in text.
        return ", ".join(f"`{getattr(v, 'name', type(v).__name__)}`" for v in value)
    if isinstance(value, timedelta):
        return f"`{format_duration(value).replace(' ', '')}`"
    if value in (None, {}, []):
        return "" if value is None else f"`{value}`"
    text = re.sub(r"\s+", " ", repr(value))
    return f"`{text[:60]}`"


def rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = _models_in(field.annotation)
        description = " ".join((field.description or "").split()).replace("|", "\\|")
        if nested and typing.get_origin(field.annotation) is dict:
            out.append(f"| `{key}.<name>` | section | | {description} |")
            for sub in nested:
                out.extend(rows(sub, f"{key}.<name>."))
        elif nested and typing.get_origin(field.annotation) in (list, tuple):
            out.append(f"| `{key}[]` | list of sections | {_default(field)} | {description} |")
            for sub in nested:
                out.extend(rows(sub, f"{key}[]."))
        elif nested:
            for sub in nested:
                out.extend(rows(sub, f"{key}."))
        else:
            out.append(
                f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {description} |"
            )
    return out


def reference() -> str:
    lines = [
        "| key | type | default | meaning |",
        "| --- | --- | --- | --- |",
        *rows(Config),
    ]
    return "\n".join(lines)


def update_readme(path: Path) -> bool:
    """Rewrite the README's generated section; returns True when it changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(START) + len(START), text.index(END)
    new = text[:start] + "\n" + reference() + "\n" + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False

"""Reading a folder of runbooks into a RunbookSet, naming every problem as `file:line: message`.

A broken runbook must stop `chatops serve` and fail `chatops runbooks lint` with all of
its problems at once, each pointing at the line to fix, so authors do not learn about
them one start at a time. Line numbers come from the composed YAML node tree (the way
bot/config.py does it), shifted by the opening `---` line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from alerts.runbooks.model import (
    MAX_STEPS,
    MIN_STEPS,
    VERSION_LENGTH,
    FrontMatter,
    Runbook,
    RunbookSet,
)
from alerts.runbooks.specs import SPECS, StepSpecs
from alerts.runbooks.templates import has_template, template_problems

SKIPPED_FILES = frozenset({"README.md"})
Loc = Sequence[str | int]


class RunbookError(Exception):
    """One or more runbooks are broken; `problems` holds each as `path:line: message`."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} runbook problem(s)\n" + "\n".join(problems))


def runbook_files(directory: str | Path) -> list[Path]:
    """The runbook files of `directory`, in the byte order of their names."""
    found = [
        path
        for path in Path(directory).glob("*.md")
        if path.name not in SKIPPED_FILES and path.is_file()
    ]
    return sorted(found, key=lambda path: path.name.encode())


def load_runbooks(directory: str | Path, *, registry: StepSpecs = SPECS) -> RunbookSet:
    """Every runbook in `directory`, or RunbookError listing every problem in every file."""
    problems: list[str] = []
    runbooks: list[Runbook] = []
    first_file: dict[str, Path] = {}
    for path in runbook_files(directory):
        parsed = _load_file(path, registry)
        problems.extend(parsed.problems)
        # Checked on the raw id, so a clash is reported even in a file with other problems.
        if parsed.raw_id is not None:
            other = first_file.setdefault(parsed.raw_id, path)
            if other != path:
                problems.append(
                    f"{path}:{parsed.id_line}: id: runbook id {parsed.raw_id!r} "
                    f"is already used by {other}"
                )
                continue
        if parsed.runbook is not None:
            runbooks.append(parsed.runbook)
    if problems:
        raise RunbookError(problems)
    return RunbookSet(runbooks)


def parse_runbook(text: str, path: Path, *, registry: StepSpecs = SPECS) -> Runbook:
    """One runbook from its text (`path` names it and gives the expected id)."""
    parsed = _parse(text, path, registry)
    if parsed.runbook is None:
        raise RunbookError(parsed.problems)
    return parsed.runbook


@dataclass(frozen=True)
class _Parsed:
    runbook: Runbook | None
    problems: list[str]
    raw_id: str | None = None
    id_line: int = 1


def _load_file(path: Path, registry: StepSpecs) -> _Parsed:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _Parsed(None, [f"{path}:1: not UTF-8 text ({exc.reason})"])
    except OSError as exc:
        return _Parsed(None, [f"{path}:1: cannot be read ({exc.strerror})"])
    return _parse(text, path, registry)


def _split(text: str) -> tuple[str, str] | None:
    """(front matter, body) when `text` opens with a `---` line and has a closing one."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return None
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]).lstrip("\r\n")
    return None


def _parse(text: str, path: Path, registry: StepSpecs) -> _Parsed:
    split = _split(text)
    if split is None:
        message = "a runbook must open with YAML front matter between two '---' lines"
        return _Parsed(None, [f"{path}:1: {message}"])
    front, body = split
    try:
        root = yaml.compose(front, Loader=yaml.SafeLoader)
        data = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        line, message = _yaml_problem(exc)
        return _Parsed(None, [f"{path}:{line}: front matter is not valid YAML: {message}"])

    def at(loc: Loc, message: str) -> str:
        key = ".".join(str(part) for part in loc)
        return f"{path}:{_line_of(root, loc)}: " + (f"{key}: {message}" if key else message)

    if not isinstance(data, dict):
        return _Parsed(None, [at((), "the front matter must be a mapping (id, title, steps)")])
    raw_id = data.get("id") if isinstance(data.get("id"), str) else None
    id_line = _line_of(root, ("id",))
    located: list[tuple[Loc, str]] = [(loc, "duplicate key") for loc in _duplicate_keys(root, ())]
    front_matter: FrontMatter | None = None
    try:
        front_matter = FrontMatter.model_validate(data)
    except ValidationError as exc:
        located.extend(_describe(error) for error in exc.errors() if not _is_step_count(error))
    located.extend(_semantic_problems(data, path, registry, lambda loc: _line_of(root, loc)))
    # In file order, so the list reads like the file (the sort is stable within a line).
    located.sort(key=lambda item: _line_of(root, item[0]))
    problems = [at(loc, message) for loc, message in located]
    if problems or front_matter is None:
        return _Parsed(None, problems, raw_id, id_line)
    runbook = Runbook(**dict(front_matter), path=path, body=body, version=_version(data))
    return _Parsed(runbook, [], raw_id, id_line)


def _yaml_problem(exc: yaml.YAMLError) -> tuple[int, str]:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 2 if mark is not None else 1
    message = str(getattr(exc, "problem", None) or exc)
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark.line + 2 != line:
        # The parser notices late: say where the unfinished construct began.
        message += f" ({context} started on line {context_mark.line + 2})"
    return line, message


def _is_step_count(error: Any) -> bool:
    # Pydantic checks the length only when every step is valid; _semantic_problems always does.
    return tuple(error["loc"]) == ("steps",) and error["type"] in ("too_short", "too_long")


def _describe(error: Any) -> tuple[Loc, str]:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return loc, "unknown key"
    if kind == "missing":
        return loc, "required key is missing"
    if kind == "string_too_long" and isinstance(error.get("input"), str):
        limit = error["ctx"]["max_length"]
        length = len(error["input"].strip())
        return loc, f"is {length} characters long; at most {limit} are allowed"
    return loc, str(error["msg"]).removeprefix("Value error, ")


def _semantic_problems(
    data: dict[Any, Any], path: Path, registry: StepSpecs, line_of: Callable[[Loc], int]
) -> Iterable[tuple[Loc, str]]:
    """What the models cannot see alone: file name, duplicates, registry, templates.

    Works on the raw data, leniently, so that these are reported together with any
    schema problems instead of after they are fixed.
    """
    runbook_id = data.get("id")
    if isinstance(runbook_id, str) and runbook_id != path.stem:
        yield ("id",), f"id {runbook_id!r} must equal the file name without .md ({path.stem!r})"
    steps = data.get("steps")
    if not isinstance(steps, list):
        return
    if not MIN_STEPS <= len(steps) <= MAX_STEPS:
        yield ("steps",), f"has {len(steps)} steps; a runbook needs {MIN_STEPS} to {MAX_STEPS}"
    seen: dict[str, int] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        step_id = step.get("id")
        if isinstance(step_id, str):
            if step_id in seen:
                first = line_of(("steps", seen[step_id], "id"))
                yield (
                    ("steps", index, "id"),
                    f"duplicate step id {step_id!r} (first on line {first})",
                )
            else:
                seen[step_id] = index
        action = step.get("action")
        if isinstance(action, dict):
            yield from _action_problems(action, ("steps", index, "action"), registry)


def _action_problems(
    action: dict[Any, Any], loc: tuple[str | int, ...], registry: StepSpecs
) -> Iterable[tuple[Loc, str]]:
    action_type = action.get("type")
    params = action.get("params", {})
    if not isinstance(params, dict):
        return  # the schema already reported it
    deferred: set[str] = set()
    for name, value in params.items():
        if not isinstance(value, str) or not has_template(value):
            continue
        deferred.add(str(name))
        for text in template_problems(value):
            yield (*loc, "params", name), text
    if not isinstance(action_type, str):
        return
    spec = registry.get(action_type)
    if spec is None:
        known = ", ".join(registry.types())
        yield (*loc, "type"), f"unknown action type {action_type!r} (known: {known})"
        return
    for name in sorted(deferred):
        if name not in spec.params.model_fields or spec.accepts_template(name):
            continue
        if not spec.accepts_text(name):
            why = "templates are only allowed in text parameters; this one takes a literal value"
        else:
            why = f"{action_type} does not take this parameter from alert data; write it literally"
        yield (*loc, "params", name), why
    for problem in spec.problems(params, deferred=deferred):
        where = (*loc, "params", problem.param) if problem.param else (*loc, "params")
        yield where, problem.message


def _duplicate_keys(node: yaml.Node | None, loc: tuple[str | int, ...]) -> Iterable[Loc]:
    # PyYAML keeps the last of two equal keys silently; a second `action:` would vanish.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                yield (*loc, name)
            seen.add(name)
            yield from _duplicate_keys(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, index))


def _line_of(root: yaml.Node | None, loc: Loc) -> int:
    """The file line of the deepest node along `loc` (front matter starts on line 2)."""
    node = root
    line = root.start_mark.line if root is not None else 0
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            # The last of equal keys, as PyYAML keeps the last value.
            found = [(k, v) for k, v in node.value if str(k.value) == str(part)]
            if not found:
                break
            key, node = found[-1]
            line = key.start_mark.line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line + 2


def _version(data: dict[Any, Any]) -> str:
    # Hash the parsed data, not the text: re-wrapping a YAML line changes no step.
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:VERSION_LENGTH]

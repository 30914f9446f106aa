"""The runbook front matter as typed models, and the set of loaded runbooks.

The front matter is the contract of runbooks/README.md: everything it says about keys,
lengths and identifiers is checked here (strictly: unknown keys and wrong types are
errors, because a typo in a runbook otherwise surfaces as a missing button at 3 a.m.).
What needs more than one field at a time (ids against file names, action types against
the step registry, templates) is checked by the loader, which knows files and lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictStr,
    StringConstraints,
)

from alerts.runbooks.matchers import Matcher, parse_matcher

RUNBOOK_ID = re.compile(r"[A-Za-z0-9_.-]+")
STEP_ID = re.compile(r"[a-z0-9-]+")
# Not in README.md, but ids travel in button values and block ids, which Slack caps.
MAX_RUNBOOK_ID = 128
MAX_STEP_ID = 64
MAX_RUNBOOK_TITLE = 150  # a Slack header block holds no more
MAX_STEP_TITLE = 80
MAX_DETAIL = 500
MIN_STEPS = 3
MAX_STEPS = 10
VERSION_LENGTH = 12  # hex digits of the front matter's SHA-256


def _runbook_id(value: str) -> str:
    if not RUNBOOK_ID.fullmatch(value) or len(value) > MAX_RUNBOOK_ID:
        raise ValueError(
            f"{value!r} is not a runbook id: use up to {MAX_RUNBOOK_ID} of A-Z a-z 0-9 _ . -"
        )
    return value


def _step_id(value: str) -> str:
    if not STEP_ID.fullmatch(value) or len(value) > MAX_STEP_ID:
        raise ValueError(
            f"{value!r} is not a step id: use up to {MAX_STEP_ID} of a-z 0-9 and '-' "
            "(like check-pods)"
        )
    return value


def _one_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line")
    return value


def _matcher(value: object) -> Matcher:
    if isinstance(value, Matcher):
        return value
    if not isinstance(value, str):
        raise ValueError('a matcher must be a string like service="api"')
    return parse_matcher(value)


def _text(max_length: int) -> Any:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


RunbookId = Annotated[StrictStr, AfterValidator(_runbook_id)]
StepId = Annotated[StrictStr, AfterValidator(_step_id)]
MatcherField = Annotated[Matcher, PlainValidator(_matcher), PlainSerializer(str, return_type=str)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class StepAction(_Strict):
    """What the bot runs for a step: a registry type and its (possibly templated) params."""

    type: StrictStr
    params: dict[str, Any] = Field(default_factory=dict)


class Step(_Strict):
    id: StepId
    title: Annotated[StrictStr, _text(MAX_STEP_TITLE), AfterValidator(_one_line)]
    detail: Annotated[StrictStr, _text(MAX_DETAIL)]
    action: StepAction | None = None
    requires_approval: StrictBool = False


class FrontMatter(_Strict):
    """Exactly the keys a runbook file may hold between its `---` lines."""

    id: RunbookId
    title: Annotated[StrictStr, _text(MAX_RUNBOOK_TITLE), AfterValidator(_one_line)]
    applies_to: list[MatcherField] = Field(default_factory=list)
    steps: Annotated[list[Step], Field(min_length=MIN_STEPS, max_length=MAX_STEPS)]


class Runbook(FrontMatter):
    """A loaded runbook: its front matter plus where it came from.

    `version` is a short hash of the front matter: buttons carry it, so a click on a
    checklist posted before the steps changed is recognised as stale. Edits to the
    Markdown body alone do not change it, so fixing a typo in the prose leaves open
    checklists working.
    """

    path: Path
    body: str
    version: str

    def step(self, step_id: str) -> Step | None:
        return next((step for step in self.steps if step.id == step_id), None)


class RunbookSet:
    """Loaded runbooks by id, iterated in the byte order of their file names.

    That order is the one README.md promises for matching by labels: upper-case names
    sort before lower-case ones, so the broad `incident_response` comes last.
    """

    def __init__(self, runbooks: Iterable[Runbook] = ()) -> None:
        ordered = sorted(runbooks, key=lambda rb: rb.path.name.encode())
        self._by_id: dict[str, Runbook] = {}
        for runbook in ordered:
            if runbook.id in self._by_id:
                raise ValueError(f"duplicate runbook id {runbook.id!r}")
            self._by_id[runbook.id] = runbook
        self._ordered = tuple(ordered)

    def get(self, runbook_id: str) -> Runbook | None:
        return self._by_id.get(runbook_id)

    def __getitem__(self, runbook_id: str) -> Runbook:
        return self._by_id[runbook_id]

    def __contains__(self, runbook_id: object) -> bool:
        return runbook_id in self._by_id

    def __iter__(self) -> Iterator[Runbook]:
        return iter(self._ordered)

    def __len__(self) -> int:
        return len(self._ordered)

    @property
    def ids(self) -> list[str]:
        return [runbook.id for runbook in self._ordered]

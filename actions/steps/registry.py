"""The executors of runbook step actions, bound per type to the specs at wiring time.

The specs (parameters, targets, whether a type changes things) are domain data and live
in alerts/runbooks/specs.py; this is the side that reaches the world: what an executor is
told about the click it serves, what it answers, and the registry that holds one
executor per type. `build_registry()` gives a fresh registry, so each test gets its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from alerts.runbooks.specs import BUILTIN_SPECS, ActionSpec, StepSpecs, UnknownActionError


@dataclass(frozen=True)
class StepContext:
    """What an executor knows besides its parameters: which click it serves."""

    alert_group_id: int
    runbook_id: str
    step_id: str
    user: str
    # The alert's labels; for `alertmanager.silence`, the labels all of the group's alerts
    # share, which it silences exactly (as Silence 1h does).
    labels: Mapping[str, str] = field(default_factory=dict)
    # The group's alerts (fingerprints): a silence matching others is broader than it.
    fingerprints: frozenset[str] = frozenset()
    # Whether an approver saw and confirmed that the silence reaches beyond the group.
    broader_confirmed: bool = False
    # The only hosts http.check may reach on a non-global address (the alert's route's
    # `http_hosts`, else `runbooks.http_hosts`); empty: none.
    http_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepOutcome:
    """A channel-neutral result; the Slack layer renders `text` (mrkdwn) in the thread."""

    ok: bool
    text: str


class StepExecutor(Protocol):
    """Runs one action type; `params` is that type's validated Params model."""

    def __call__(self, params: Any, context: StepContext) -> Awaitable[StepOutcome]: ...


class StepRegistry(StepSpecs):
    """Action specs by type, plus the executor bound to each type at wiring time."""

    def __init__(self, specs: Iterable[ActionSpec] = ()) -> None:
        super().__init__(specs)
        self._executors: dict[str, StepExecutor] = {}

    def bind(self, action_type: str, executor: StepExecutor, *, replace: bool = False) -> None:
        """Attach the executor of `action_type`; binding twice is a wiring bug unless replace."""
        self.spec(action_type)
        if action_type in self._executors and not replace:
            raise ValueError(f"step action {action_type!r} already has an executor")
        self._executors[action_type] = executor

    def executor(self, action_type: str) -> StepExecutor:
        self.spec(action_type)
        found = self._executors.get(action_type)
        if found is None:
            raise UnknownActionError(f"no executor is bound to step action {action_type!r}")
        return found

    def is_bound(self, action_type: str) -> bool:
        return action_type in self._executors


def build_registry() -> StepRegistry:
    """A fresh registry with the built-in specs and no executors bound."""
    return StepRegistry(BUILTIN_SPECS)


# The process-wide registry the bot binds its executors to; tests build their own.
REGISTRY = build_registry()

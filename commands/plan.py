"""Turning a request and the platform's current state into an operation plan, or a refusal.

Approvers approve a plan, not a command: the message shows its exact from -> to state
and steps, the plan is stored with the request, and just before it runs the bot checks
that the platform is still in the plan's from-state (`still_valid`, `recheck`).

Which colour is the "previous live" one cannot be read from the platform: backends
report versions and weights, and their `live` is simply the majority colour (blue on a
tie), which is wrong at 50/50 or past 50%, and cannot tell "v2 deployed, not shifted"
from "v2 shifted to 100%". The bot knows, because it ran the operations: every plan
records its `baseline` (the colour that held all traffic before the release began) and
the caller passes the baseline of the last plan that ran for the target. Without one
(a new database, changes made outside the bot), the majority colour is the baseline;
approvers still see the exact versions and weights before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter

from alerts.slack_text import escape
from commands import messages as m
from commands.config import DeployConfig, EnvironmentConfig
from commands.parsing import (
    DeployRequest,
    OperationRequest,
    RollbackRequest,
    ShiftRequest,
)
from commands.targets import COLOURS, Colour, DeploymentState, Target, other

Kind = Literal["deploy", "shift", "rollback"]
StepKind = Literal["deploy", "health_check", "set_weights", "bake"]


@dataclass(frozen=True)
class Baseline:
    """The colour that held all traffic before the current release, and its version."""

    colour: Colour
    version: str | None


@dataclass(frozen=True)
class Step:
    """One thing the runner does, in order. Which fields are set depends on `kind`:

    - deploy: roll `colour` to `version` and wait until healthy (`seconds` = timeout);
    - health_check: HTTP check of `url` for `colour` (`expect_status`, `seconds` = timeout);
    - set_weights: send `weights` (percent per colour, summing to 100);
    - bake: watch the service for P0/P1 alerts for `seconds`.
    """

    kind: StepKind
    colour: Colour | None = None
    version: str | None = None
    weights: dict[Colour, int] | None = None
    seconds: float | None = None
    url: str | None = None
    expect_status: int | None = None


@dataclass(frozen=True)
class OperationPlan:
    kind: Kind
    target: Target
    from_state: DeploymentState
    to_state: DeploymentState
    steps: tuple[Step, ...]
    baseline: Baseline
    """The baseline after this plan has run; pass it to the next plan for the target."""
    rollback_weights: dict[Colour, int] | None = None
    """What an automatic rollback restores when a step or the bake fails; None when
    traffic never moves (a deploy) or the plan is itself a rollback."""
    version: str | None = None
    percent: int | None = None
    force: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible data, for the database."""
        return _PLAN.dump_python(self, mode="json")  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperationPlan:
        """Raises pydantic.ValidationError (a ValueError) on malformed stored data."""
        return _PLAN.validate_python(dict(data))


_PLAN = TypeAdapter(OperationPlan)


@dataclass(frozen=True)
class Refusal:
    """The request cannot become a plan; `message` says why, to the requester."""

    message: str


def weights_of(state: DeploymentState) -> dict[Colour, int]:
    return {colour: state.weights.get(colour, 0) for colour in COLOURS}


def versions_of(state: DeploymentState) -> dict[Colour, str | None]:
    return {colour: state.versions.get(colour) for colour in COLOURS}


def majority(weights: Mapping[Colour, int]) -> Colour:
    """The backends' notion of live: most traffic, blue on a tie."""
    return "blue" if weights.get("blue", 0) >= weights.get("green", 0) else "green"


def _state(versions: dict[Colour, str | None], weights: dict[Colour, int]) -> DeploymentState:
    return DeploymentState(live=majority(weights), versions=versions, weights=weights)


def _version(version: str | None) -> str:
    return escape(version) if version else m.NO_VERSION


def describe_weights(weights: Mapping[Colour, int]) -> str:
    """`blue 90% / green 10%`; a colour without traffic is left out."""
    shares = [f"{c} {weights.get(c, 0)}%" for c in COLOURS if weights.get(c, 0) > 0]
    return " / ".join(shares) or m.NO_TRAFFIC


def describe_state(state: DeploymentState) -> str:
    """`blue v1.3.0 (90%), green v1.4.0 (10%)`."""
    weights, versions = weights_of(state), versions_of(state)
    return ", ".join(f"{c} {_version(versions[c])} ({weights[c]}%)" for c in COLOURS)


def _where(target: Target) -> str:
    return f"{target.service}/{target.environment}"


def resolve_baseline(state: DeploymentState, hint: Baseline | None) -> Baseline:
    """The hint from the last plan, unless the platform shows it is stale."""
    versions = versions_of(state)
    if hint is not None and versions[hint.colour] == hint.version:
        return hint
    colour = majority(weights_of(state))
    return Baseline(colour, versions[colour])


def plan_operation(
    request: OperationRequest,
    state: DeploymentState,
    config: DeployConfig,
    *,
    baseline: Baseline | None = None,
) -> OperationPlan | Refusal:
    """Plan `request` from the platform's `state`; `baseline` is the last plan's."""
    target = request.target
    env = config.services[target.service].environments[target.environment]
    weights = weights_of(state)
    if sum(weights.values()) != 100 or min(weights.values()) < 0:
        return Refusal(
            m.REFUSE_BAD_WEIGHTS.format(target=_where(target), traffic=describe_state(state))
        )
    current = _state(versions_of(state), weights)
    if isinstance(request, DeployRequest):
        return _plan_deploy(request, current, env)
    if isinstance(request, ShiftRequest):
        return _plan_shift(request, current, env, resolve_baseline(current, baseline))
    return _plan_rollback(request, current, env, resolve_baseline(current, baseline))


def _health_check(env: EnvironmentConfig, colour: Colour) -> list[Step]:
    if not env.health_url:
        return []
    return [
        Step(
            "health_check",
            colour=colour,
            url=env.health_url,
            seconds=env.health_timeout.total_seconds(),
            expect_status=env.health_expect_status,
        )
    ]


def _plan_deploy(
    request: DeployRequest, state: DeploymentState, env: EnvironmentConfig
) -> OperationPlan | Refusal:
    target, weights, versions = request.target, weights_of(state), versions_of(state)
    live = next((c for c in COLOURS if weights[c] == 100), None)
    if live is None:
        # Deploying over a colour that takes traffic would swap the version under users.
        return Refusal(
            m.REFUSE_DEPLOY_SPLIT.format(target=_where(target), traffic=describe_weights(weights))
        )
    if versions[live] == request.version:
        return Refusal(
            m.REFUSE_ALREADY_LIVE.format(
                version=escape(request.version), colour=live, target=_where(target)
            )
        )
    idle = other(live)
    # Re-deploying the version the idle colour already has is allowed: it is how a
    # failed or half-finished rollout is retried.
    steps = [
        Step(
            "deploy",
            colour=idle,
            version=request.version,
            seconds=env.rollout_timeout.total_seconds(),
        ),
        *_health_check(env, idle),
    ]
    return OperationPlan(
        kind="deploy",
        target=target,
        from_state=state,
        to_state=_state({**versions, idle: request.version}, weights),
        steps=tuple(steps),
        baseline=Baseline(live, versions[live]),
        version=request.version,
        force=request.force,
    )


def _plan_shift(
    request: ShiftRequest, state: DeploymentState, env: EnvironmentConfig, baseline: Baseline
) -> OperationPlan | Refusal:
    target, weights, versions = request.target, weights_of(state), versions_of(state)
    new = other(baseline.colour)
    where = _where(target)
    if versions[new] is None:
        return Refusal(
            m.REFUSE_NOTHING_DEPLOYED.format(
                colour=new,
                target=where,
                service=target.service,
                environment=target.environment,
            )
        )
    if versions[new] == versions[baseline.colour]:
        return Refusal(m.REFUSE_SAME_VERSION.format(version=_version(versions[new]), target=where))
    if weights[new] == request.percent:
        return Refusal(
            m.REFUSE_ALREADY_AT.format(
                colour=new,
                version=_version(versions[new]),
                percent=request.percent,
                target=where,
            )
        )
    # Shifting down (50 -> 10) is allowed: it is a partial rollback, approved like any
    # other shift, and the approval message shows the direction.
    to_weights: dict[Colour, int] = {new: request.percent, baseline.colour: 100 - request.percent}
    to_weights = {c: to_weights[c] for c in COLOURS}
    steps = [Step("set_weights", weights=to_weights), *_health_check(env, new)]
    if env.bake.total_seconds() > 0:
        steps.append(Step("bake", seconds=env.bake.total_seconds()))
    rollback = {c: 100 if c == baseline.colour else 0 for c in COLOURS}
    return OperationPlan(
        kind="shift",
        target=target,
        from_state=state,
        to_state=_state(versions, to_weights),
        steps=tuple(steps),
        baseline=baseline,
        rollback_weights=rollback,
        percent=request.percent,
        force=request.force,
    )


def _plan_rollback(
    request: RollbackRequest, state: DeploymentState, env: EnvironmentConfig, baseline: Baseline
) -> OperationPlan | Refusal:
    target, weights, versions = request.target, weights_of(state), versions_of(state)
    colour = baseline.colour
    if weights[colour] == 100:
        message = m.REFUSE_NOTHING_TO_ROLL_BACK.format(
            target=_where(target), colour=colour, version=_version(versions[colour])
        )
        if versions[other(colour)]:
            message += " " + m.HINT_SHIFT_INSTEAD.format(
                colour=other(colour), version=_version(versions[other(colour)])
            )
        return Refusal(message)
    if versions[colour] is None:
        return Refusal(m.REFUSE_NO_PREVIOUS.format(target=_where(target), colour=colour))
    to_weights = {c: 100 if c == colour else 0 for c in COLOURS}
    return OperationPlan(
        kind="rollback",
        target=target,
        from_state=state,
        to_state=_state(versions, to_weights),
        steps=(Step("set_weights", weights=to_weights), *_health_check(env, colour)),
        baseline=baseline,
        force=request.force,
    )


def still_valid(plan: OperationPlan, current: DeploymentState) -> bool:
    """True while the platform is in the state the approvers saw (versions and weights)."""
    return versions_of(plan.from_state) == versions_of(current) and weights_of(
        plan.from_state
    ) == weights_of(current)


def recheck(
    plan: OperationPlan,
    current: DeploymentState,
    *,
    busy: bool,
    busy_with: str | None = None,
    blocking_alerts: Sequence[str] = (),
    window: str | None = None,
) -> str | None:
    """Why an approved plan must not run now, or None when it may.

    `busy`: another operation holds the target's lock (`busy_with`: its kind, when
    known). `blocking_alerts`: P0/P1 alerts firing for the service; `--force` (approved
    with an extra vote) runs despite them.
    """
    where = _where(plan.target)
    if busy and plan.kind == "rollback" and busy_with == "rollback":
        return m.RECHECK_ROLLBACK_BUSY.format(target=where)
    if busy:
        return m.RECHECK_BUSY.format(target=where)
    if not still_valid(plan, current):
        return m.RECHECK_DRIFT.format(
            target=where, before=describe_state(plan.from_state), after=describe_state(current)
        )
    return frozen(plan, blocking_alerts, window)


def frozen(
    plan: OperationPlan, blocking_alerts: Sequence[str], window: str | None = None
) -> str | None:
    """Why P0/P1 alerts or a freeze window (`window`: its name and end, from
    commands/freeze_windows.py) stop `plan`, or None: a rollback (the remedy for those
    very alerts) and a `--force`d plan are never frozen. Asked when the request is posted
    and again just before it runs."""
    if plan.force or plan.kind == "rollback":
        return None
    if window is not None:
        return m.RECHECK_WINDOW.format(window=escape(window), target=_where(plan.target))
    if not blocking_alerts:
        return None
    shown = ", ".join(escape(a) for a in blocking_alerts[:5])
    if len(blocking_alerts) > 5:
        shown += m.AND_MORE.format(count=len(blocking_alerts) - 5)
    return m.RECHECK_ALERTS.format(service=plan.target.service, alerts=shown)


def request_of(plan: OperationPlan) -> OperationRequest:
    """The request a stored plan was made from (for showing the exact command)."""
    if plan.kind == "deploy":
        return DeployRequest(plan.target, plan.version or "", plan.force)
    if plan.kind == "shift":
        return ShiftRequest(plan.target, plan.percent or 0, plan.force)
    return RollbackRequest(plan.target, plan.force)

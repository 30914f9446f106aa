"""/deploy status: what runs where, what is moving, what fires, and who approved the last
changes, for one target or several. It changes nothing, so it needs no approval and is
answered to the asker alone.

The bot gathers the facts (platform state, operations, alerts) into the plain data
below; this module parses the command and renders the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from alerts.slack_text import escape
from commands import messages as m
from commands.parsing import (
    CommandContext,
    StatusRequest,
    UsageError,
    default_service,
    no_more_than,
    resolve_optional_target,
    resolve_service,
    split_words,
)
from commands.plan import OperationPlan, describe_weights, versions_of, weights_of
from commands.render import (
    MAX_SECTION,
    clip,
    date,
    describe_step,
    mentions,
    plan_command,
    version_text,
)
from commands.spec import Argument, CommandSpec
from commands.targets import COLOURS, Colour, DeploymentState, Target

RECENT = 5
"""How many past operations the answer lists per target."""


def parse(text: str, context: CommandContext) -> StatusRequest:
    words = split_words(text)
    if words.force:
        raise UsageError(m.STATUS_NO_FORCE)
    no_more_than(words, 2)
    services = context.config.services
    if not words.positional:
        here = default_service(context)
        names = [here] if here is not None else sorted(services)
        if not names:
            resolve_service(context, None)  # says that no services are configured
        return StatusRequest(tuple(Target(n, e) for n in names for e in services[n].environments))
    if len(words.positional) == 1 and words.positional[0] in services:
        name = words.positional[0]
        return StatusRequest(tuple(Target(name, e) for e in services[name].environments))
    return StatusRequest((resolve_optional_target(context, words.positional),))


SPEC: CommandSpec[StatusRequest] = CommandSpec(
    name="/deploy status",
    description=m.STATUS_DESCRIPTION,
    arguments=(
        Argument("service", m.STATUS_ARG_SERVICE, optional=True),
        Argument("environment", m.STATUS_ARG_ENVIRONMENT, optional=True),
    ),
    examples=("/deploy status", "/deploy status api production"),
    parse=parse,
)


# --- What the bot gathers ----------------------------------------------------------------


@dataclass(frozen=True)
class ActiveOperation:
    """The operation holding the target's lock."""

    plan: OperationPlan
    status: str
    """running | baking | bake_failed (operations table)."""
    step: int
    requester: str
    approvers: tuple[str, ...]
    bake_until: datetime | None = None


@dataclass(frozen=True)
class PastOperation:
    plan: OperationPlan
    outcome: str
    """The request's outcome word (DESIGN.md)."""
    requester: str
    approvers: tuple[str, ...]
    started_at: datetime


@dataclass(frozen=True)
class TargetStatus:
    target: Target
    state: DeploymentState | None
    state_error: str | None
    live: Colour | None
    """The colour that held all traffic before the current release (the plan baseline)."""
    active: ActiveOperation | None
    alerts: tuple[str, ...]
    recent: tuple[PastOperation, ...]
    freeze: str | None = None
    """The freeze window in force (name and end), if any."""
    next_freeze: str | None = None
    """The next one to open (name and start), if any within a week."""


# --- The answer --------------------------------------------------------------------------


def render_status(statuses: Sequence[TargetStatus]) -> str:
    """One mrkdwn text for the asker, a paragraph per target."""
    return "\n\n".join(clip(_target(s), MAX_SECTION) for s in statuses)


def _target(status: TargetStatus) -> str:
    where = f"{status.target.service}/{status.target.environment}"
    lines = [m.STATUS_TITLE.format(target=where)]
    if status.state is None:
        lines.append(m.STATUS_STATE_UNKNOWN.format(error=escape(status.state_error or "")))
    else:
        versions, weights = versions_of(status.state), weights_of(status.state)
        lines.append(m.STATUS_LIVE.format(colour=status.live or status.state.live))
        lines.append(
            m.STATUS_VERSIONS.format(
                versions=" · ".join(f"{c} {version_text(versions[c])}" for c in COLOURS)
            )
        )
        lines.append(m.STATUS_WEIGHTS.format(weights=describe_weights(weights)))
    lines.append(_active(status.active))
    if status.freeze is not None:
        lines.append(m.STATUS_FREEZE.format(window=escape(status.freeze)))
    if status.next_freeze is not None:
        lines.append(m.STATUS_NEXT_FREEZE.format(window=escape(status.next_freeze)))
    if status.alerts:
        shown = "\n".join(f"  • {escape(a)}" for a in status.alerts[:10])
        lines.append(m.STATUS_ALERTS.format(count=len(status.alerts), alerts=shown))
    else:
        lines.append(m.STATUS_NO_ALERTS)
    if status.recent:
        lines.append(m.STATUS_RECENT.format(count=len(status.recent)))
        lines.extend(_past(p) for p in status.recent)
    else:
        lines.append(m.STATUS_NO_RECENT)
    return "\n".join(lines)


def _active(active: ActiveOperation | None) -> str:
    if active is None:
        return m.STATUS_IDLE
    command = escape(plan_command(active.plan))
    if active.status == "baking" and active.bake_until is not None:
        doing = m.STATUS_BAKING.format(until=date(active.bake_until))
    elif active.status == "bake_failed":
        doing = m.STATE_BAKE_FAILED
    else:
        index = min(max(active.step, 1), len(active.plan.steps))
        doing = m.STATUS_AT_STEP.format(
            index=index,
            total=len(active.plan.steps),
            step=describe_step(active.plan.steps[index - 1], active.plan),
        )
    return m.STATUS_ACTIVE.format(
        command=command,
        doing=doing,
        requester=active.requester,
        approvers=mentions(active.approvers) or m.STATUS_NOBODY,
    )


def _past(past: PastOperation) -> str:
    return m.STATUS_PAST.format(
        when=date(past.started_at),
        command=escape(plan_command(past.plan)),
        outcome=past.outcome,
        requester=past.requester,
        approvers=mentions(past.approvers) or m.STATUS_NOBODY,
    )

"""Who may deploy and approve, and the approval request as a pure state machine.

Reactions arrive as Slack events: late, twice, out of order, from anyone in the channel.
Each one is applied by a pure function to the stored request, which returns the new
request and what to tell whom; the bot persists the new request and re-renders it. With
the rules here, free of Slack and the database, each rule is tested on its own and a
request survives a restart as the plain data `to_dict` returns.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import TypeAdapter

from commands import messages as m
from commands.config import DeployConfig
from commands.plan import OperationPlan
from commands.targets import Target


class Outcome(StrEnum):
    """The one word an approval message always shows (DESIGN.md's outcome words)."""

    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    EXPIRED = "Expired"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ROLLED_BACK = "Rolled back"


# Votes change a request only until it starts running.
OPEN = frozenset({Outcome.PENDING, Outcome.APPROVED})
FINAL = frozenset(
    {Outcome.REJECTED, Outcome.EXPIRED, Outcome.SUCCEEDED, Outcome.FAILED, Outcome.ROLLED_BACK}
)


# --- Authorisation ---------------------------------------------------------------------


def deployers_for(config: DeployConfig, target: Target) -> list[str]:
    env = config.services[target.service].environments[target.environment]
    return env.deployers if env.deployers is not None else config.deployers


def approvers_for(config: DeployConfig, target: Target) -> list[str]:
    env = config.services[target.service].environments[target.environment]
    return env.approvers if env.approvers is not None else config.approvers


def is_member(principals: Iterable[str], user: str, groups: Collection[str]) -> bool:
    """`principals` holds user ids (U/W...) and user-group ids (S...); `groups` are the
    user-group ids `user` belongs to, as resolved by the caller. An empty list admits
    nobody: a missing config line must not open production to the whole workspace."""
    return any(p == user or (p.startswith("S") and p in groups) for p in principals)


def is_deployer(config: DeployConfig, target: Target, user: str, groups: Collection[str]) -> bool:
    return is_member(deployers_for(config, target), user, groups)


def is_approver(config: DeployConfig, target: Target, user: str, groups: Collection[str]) -> bool:
    return is_member(approvers_for(config, target), user, groups)


def groups_to_resolve(config: DeployConfig, target: Target) -> set[str]:
    """The user-group ids whose members the caller must know to decide for `target`."""
    principals = [*deployers_for(config, target), *approvers_for(config, target)]
    return {p for p in principals if p.startswith("S")}


def required_approvals(config: DeployConfig, target: Target, *, force: bool) -> int:
    env = config.services[target.service].environments[target.environment]
    return env.approvals + (config.force_extra_approvals if force else 0)


Vote = Literal["approve", "reject"]


def reaction_vote(reaction: str, config: DeployConfig) -> Vote | None:
    """What a reaction means; Slack appends skin tones (`x::skin-tone-2`), which don't matter."""
    name = reaction.split("::", 1)[0]
    if name in config.approve_reactions:
        return "approve"
    if name in config.reject_reactions:
        return "reject"
    return None


# --- The request -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Approval:
    """What every approval request has, whatever it asks to run: the votes and the outcome.

    `ApprovalRequest` (an operation plan) and the runbook feature's step approvals extend
    it; the voting rules below work on any of them."""

    id: str
    requester: str
    required: int
    created_at: datetime
    expires_at: datetime
    status: Outcome = Outcome.PENDING
    votes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Approver -> the approve reactions they have on the message now, in arrival order.
    Tracking reactions, not just people, lets someone who used both approve reactions
    remove one and still count once."""
    rejected_by: str | None = None
    told: tuple[str, ...] = ()
    """Users already told (ephemerally) why their reaction does not count; told once."""
    result: str | None = None
    """One line for a finished request: what happened, or why it did not run."""
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def approved_by(self) -> tuple[str, ...]:
        return tuple(self.votes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible data, for the database (each kind knows its own shape)."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class ApprovalRequest(Approval):
    """An approval request for an operation plan (/deploy, /shift, /rollback)."""

    operation: OperationPlan
    preempts: str | None = None
    """For a rollback asked for while a shift runs or bakes: that operation, as the approval
    message names it (mrkdwn, escaped); approving the rollback cancels it."""
    frozen_by: tuple[str, ...] = ()
    """The P0/P1 alerts that froze this request when it was posted: it ended at once
    (Failed, never took votes) and offers to ask again with `--force`."""
    asked_in: str = ""
    """The conversation the command was typed in (a DM, another channel): the requester is
    told the outcome there when it is not the request's own channel."""
    frozen_window: str | None = None
    """Or the freeze window (`deploy.freezes`) that froze it: its name and end."""

    @property
    def frozen(self) -> bool:
        return bool(self.frozen_by) or self.frozen_window is not None

    @property
    def target(self) -> Target:
        return self.operation.target

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible data, for the database."""
        return _REQUEST.dump_python(self, mode="json")  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApprovalRequest:
        return _REQUEST.validate_python(dict(data))


_REQUEST = TypeAdapter(ApprovalRequest)


def open_request(
    id: str, plan: OperationPlan, requester: str, config: DeployConfig, now: datetime
) -> ApprovalRequest:
    return ApprovalRequest(
        id=id,
        operation=plan,
        requester=requester,
        required=required_approvals(config, plan.target, force=plan.force),
        created_at=now,
        expires_at=now + config.request_ttl,
    )


class VoteResult(StrEnum):
    """What the caller does after a reaction event."""

    IGNORED = "ignored"  # not a vote, or it changes nothing visible: say nothing
    DUPLICATE = "duplicate"  # the same approval again (redelivery, second reaction)
    NOT_APPROVER = "not_approver"  # ignored; tell the user ephemerally if `notify`
    OWN_APPROVAL = "own_approval"  # the requester approving: ignored; tell if `notify`
    CLOSED = "closed"  # the request no longer takes votes (running or finished)
    COUNTED = "counted"  # one more approval, no quorum yet: update the message
    WITHDRAWN = "withdrawn"  # an approval was removed: update the message
    REJECTED = "rejected"  # final: update the message
    APPROVED = "approved"  # quorum reached: re-check, then run
    EXPIRED = "expired"  # the vote came too late; the request is now Expired


A = TypeVar("A", bound=Approval)


@dataclass(frozen=True)
class VoteOutcome(Generic[A]):
    request: A
    result: VoteResult
    notify: bool = False
    changed: bool = False
    """The request differs from the one passed in: persist it and re-render."""


def _told(request: A, user: str, result: VoteResult) -> VoteOutcome[A]:
    if user in request.told:
        return VoteOutcome(request, result)
    updated = replace(request, told=(*request.told, user))
    return VoteOutcome(updated, result, notify=True, changed=True)


def vote(
    request: A,
    user: str,
    reaction: str,
    added: bool,
    now: datetime,
    is_approver: bool,
    *,
    config: DeployConfig,
) -> VoteOutcome[A]:
    """Apply one `reaction_added` (added=True) or `reaction_removed` event.

    `is_approver` is the caller's decision (for an operation:
    `is_approver(config, request.target, user, groups)`).
    """
    kind = reaction_vote(reaction, config)
    if kind is None:
        return VoteOutcome(request, VoteResult.IGNORED)
    if request.status not in OPEN:
        return VoteOutcome(request, VoteResult.CLOSED)
    if request.status is Outcome.PENDING and now >= request.expires_at:
        return VoteOutcome(expire(request, now), VoteResult.EXPIRED, changed=True)
    name = reaction.split("::", 1)[0]

    if not added:
        held = request.votes.get(user, ())
        if kind == "reject" or name not in held:
            return VoteOutcome(request, VoteResult.IGNORED)
        remaining = tuple(r for r in held if r != name)
        votes = {u: r for u, r in request.votes.items() if u != user}
        if remaining:
            votes[user] = remaining
            return VoteOutcome(replace(request, votes=votes), VoteResult.IGNORED, changed=True)
        status = Outcome.PENDING if len(votes) < request.required else request.status
        updated = replace(request, votes=votes, status=status)
        return VoteOutcome(updated, VoteResult.WITHDRAWN, changed=True)

    if user == request.requester:
        if kind == "reject":
            # The requester may always take their own request back, approver or not.
            return _reject(request, user, now)
        return _told(request, user, VoteResult.OWN_APPROVAL)
    if not is_approver:
        return _told(request, user, VoteResult.NOT_APPROVER)
    if kind == "reject":
        return _reject(request, user, now)

    held = request.votes.get(user, ())
    if name in held:
        return VoteOutcome(request, VoteResult.DUPLICATE)
    votes = {**request.votes, user: (*held, name)}
    if held:
        return VoteOutcome(replace(request, votes=votes), VoteResult.DUPLICATE, changed=True)
    if request.status is Outcome.PENDING and len(votes) >= request.required:
        approved = replace(request, votes=votes, status=Outcome.APPROVED)
        return VoteOutcome(approved, VoteResult.APPROVED, changed=True)
    return VoteOutcome(replace(request, votes=votes), VoteResult.COUNTED, changed=True)


def _reject(request: A, user: str, now: datetime) -> VoteOutcome[A]:
    rejected = replace(request, status=Outcome.REJECTED, rejected_by=user, finished_at=now)
    return VoteOutcome(rejected, VoteResult.REJECTED, changed=True)


class InvalidTransition(ValueError):
    """The request is not in a state that allows this step (a bug in the caller)."""


def _require(request: Approval, allowed: Collection[Outcome], action: str) -> None:
    if request.status not in allowed:
        raise InvalidTransition(f"cannot {action} request {request.id}: it is {request.status}")


def expire(request: A, now: datetime) -> A:
    """Expired when still pending at `expires_at`; anything else is returned unchanged."""
    if request.status is Outcome.PENDING and now >= request.expires_at:
        return replace(request, status=Outcome.EXPIRED, finished_at=now)
    return request


def start(request: A, now: datetime) -> A:
    """Approved -> Running, once the re-check passed and the target's lock is held."""
    _require(request, {Outcome.APPROVED}, "start")
    return replace(request, status=Outcome.RUNNING, started_at=now)


def abort(request: A, reason: str, now: datetime) -> A:
    """Approved -> Failed without running, because the re-check refused (`recheck`)."""
    _require(request, {Outcome.APPROVED}, "abort")
    return replace(
        request, status=Outcome.FAILED, result=m.NOT_RUN.format(reason=reason), finished_at=now
    )


def freeze(
    request: ApprovalRequest,
    alerts: Sequence[str],
    reason: str,
    now: datetime,
    *,
    window: str | None = None,
) -> ApprovalRequest:
    """Pending -> Failed before any vote: P0/P1 alerts fire and it is not `--force`d, so it
    could not run; asking approvers to vote for it would waste their attention."""
    _require(request, {Outcome.PENDING}, "freeze")
    return replace(
        request,
        status=Outcome.FAILED,
        result=m.NOT_RUN.format(reason=reason),
        frozen_by=tuple(alerts),
        frozen_window=window,
        finished_at=now,
    )


def finish(request: A, outcome: Outcome, result: str, now: datetime) -> A:
    """Running -> Succeeded, Failed or Rolled back, with the line to show."""
    _require(request, {Outcome.RUNNING}, "finish")
    if outcome not in (Outcome.SUCCEEDED, Outcome.FAILED, Outcome.ROLLED_BACK):
        raise InvalidTransition(f"{outcome} is not how a run ends")
    return replace(request, status=outcome, result=result, finished_at=now)

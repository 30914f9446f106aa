"""Who may deploy and approve, and how reactions move an approval request."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from commands.approval import (
    ApprovalRequest,
    InvalidTransition,
    Outcome,
    VoteOutcome,
    VoteResult,
    abort,
    expire,
    finish,
    groups_to_resolve,
    is_approver,
    is_deployer,
    open_request,
    reaction_vote,
    required_approvals,
    start,
    vote,
)
from commands.config import DeployConfig
from commands.parsing import DeployRequest
from commands.plan import OperationPlan, plan_operation
from commands.targets import DeploymentState, Target

CONFIG = DeployConfig.model_validate(
    {
        "deployers": ["U0000DEP01", "S0000DEPGR"],
        "approvers": ["U0000APR01", "U0000APR02", "U0000APR03", "S0000APRGR"],
        "services": {
            "api": {
                "channel": "C0000DEPLY",
                "environments": {
                    "staging": {"approvals": 1, "deployers": ["U0000DEV01"]},
                    "production": {"approvals": 2},
                },
            }
        },
    }
)
PRODUCTION, STAGING = Target("api", "production"), Target("api", "staging")
REQUESTER, A1, A2, A3, STRANGER = (
    "U0000DEP01",
    "U0000APR01",
    "U0000APR02",
    "U0000APR03",
    "U0000XXX01",
)
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
STATE = DeploymentState("blue", {"blue": "v1.3.0", "green": "v1.2.0"}, {"blue": 100, "green": 0})


def make_plan(target: Target = PRODUCTION, *, force: bool = False) -> OperationPlan:
    plan = plan_operation(DeployRequest(target, "v1.4.0", force), STATE, CONFIG)
    assert isinstance(plan, OperationPlan)
    return plan


def new(target: Target = PRODUCTION, *, force: bool = False) -> ApprovalRequest:
    return open_request("req-1", make_plan(target, force=force), REQUESTER, CONFIG, T0)


def react(
    request: ApprovalRequest,
    user: str,
    reaction: str = "white_check_mark",
    *,
    added: bool = True,
    at: timedelta = timedelta(minutes=1),
) -> VoteOutcome:
    approver = is_approver(CONFIG, request.target, user, frozenset())
    return vote(request, user, reaction, added, T0 + at, approver, config=CONFIG)


# --- Authorisation ---------------------------------------------------------------------


def test_deployers_by_user_id_or_user_group() -> None:
    assert is_deployer(CONFIG, PRODUCTION, REQUESTER, frozenset())
    assert is_deployer(CONFIG, PRODUCTION, "U0000SRE01", frozenset({"S0000DEPGR"}))
    assert not is_deployer(CONFIG, PRODUCTION, "U0000SRE01", frozenset({"S0000OTHER"}))


def test_an_environment_can_replace_the_deployers() -> None:
    assert is_deployer(CONFIG, STAGING, "U0000DEV01", frozenset())
    assert not is_deployer(CONFIG, STAGING, REQUESTER, frozenset())


def test_approvers_by_user_id_or_user_group() -> None:
    assert is_approver(CONFIG, PRODUCTION, A1, frozenset())
    assert is_approver(CONFIG, PRODUCTION, "U0000SRE01", frozenset({"S0000APRGR"}))
    assert not is_approver(CONFIG, PRODUCTION, STRANGER, frozenset({"S0000DEPGR"}))


def test_a_user_id_that_looks_like_a_group_does_not_match() -> None:
    assert not is_approver(CONFIG, PRODUCTION, "U0000SRE01", frozenset({"U0000APR01"}))


def test_empty_lists_admit_nobody() -> None:
    empty = DeployConfig.model_validate({"services": CONFIG.model_dump()["services"]})
    assert not is_deployer(empty, PRODUCTION, REQUESTER, frozenset())
    assert not is_approver(empty, PRODUCTION, A1, frozenset())


def test_groups_to_resolve_are_the_user_groups_that_matter() -> None:
    assert groups_to_resolve(CONFIG, PRODUCTION) == {"S0000DEPGR", "S0000APRGR"}
    assert groups_to_resolve(CONFIG, STAGING) == {"S0000APRGR"}


# --- Opening ---------------------------------------------------------------------------


def test_a_new_request_is_pending_with_the_environment_quorum_and_ttl() -> None:
    request = new()
    assert request.status is Outcome.PENDING
    assert request.required == 2
    assert request.expires_at == T0 + timedelta(minutes=15)
    assert new(STAGING).required == 1


def test_force_needs_one_more_approval() -> None:
    assert new(force=True).required == 3
    assert required_approvals(CONFIG, STAGING, force=True) == 2


def test_outcome_words_are_exactly_the_design_ones() -> None:
    assert [o.value for o in Outcome] == [
        "Pending",
        "Approved",
        "Rejected",
        "Expired",
        "Running",
        "Succeeded",
        "Failed",
        "Rolled back",
    ]


# --- Votes -----------------------------------------------------------------------------


def test_two_approvals_reach_quorum_in_production() -> None:
    first = react(new(), A1)
    assert first.result is VoteResult.COUNTED and first.changed
    assert first.request.status is Outcome.PENDING
    second = react(first.request, A2, "heavy_check_mark")
    assert second.result is VoteResult.APPROVED
    assert second.request.status is Outcome.APPROVED
    assert second.request.approved_by == (A1, A2)


def test_the_requesters_own_approval_never_counts_and_is_explained_once() -> None:
    first = react(new(STAGING), REQUESTER)
    assert first.result is VoteResult.OWN_APPROVAL
    assert first.notify and first.request.votes == {}
    assert first.request.status is Outcome.PENDING
    again = react(first.request, REQUESTER, "heavy_check_mark")
    assert again.result is VoteResult.OWN_APPROVAL and not again.notify


def test_the_requester_is_ignored_even_when_also_an_approver() -> None:
    request = open_request("r", make_plan(STAGING), A1, CONFIG, T0)
    outcome = react(request, A1)
    assert outcome.result is VoteResult.OWN_APPROVAL
    assert outcome.request.status is Outcome.PENDING


def test_non_approvers_are_ignored_and_told_once() -> None:
    first = react(new(STAGING), STRANGER)
    assert first.result is VoteResult.NOT_APPROVER and first.notify
    assert first.request.votes == {} and first.request.told == (STRANGER,)
    second = react(first.request, STRANGER, "x")
    assert second.result is VoteResult.NOT_APPROVER and not second.notify
    assert second.request.status is Outcome.PENDING


def test_the_same_reaction_twice_counts_once() -> None:
    first = react(new(), A1)
    again = react(first.request, A1)
    assert again.result is VoteResult.DUPLICATE and not again.changed
    assert again.request == first.request


def test_two_approve_reactions_by_one_person_count_once() -> None:
    first = react(new(), A1)
    both = react(first.request, A1, "heavy_check_mark")
    assert both.result is VoteResult.DUPLICATE
    assert both.request.status is Outcome.PENDING
    assert both.request.approved_by == (A1,)
    # Removing one of the two leaves the approval standing.
    one_left = react(both.request, A1, "white_check_mark", added=False)
    assert one_left.request.approved_by == (A1,)
    assert one_left.result is VoteResult.IGNORED


def test_removing_an_approval_withdraws_it() -> None:
    first = react(new(), A1)
    withdrawn = react(first.request, A1, added=False)
    assert withdrawn.result is VoteResult.WITHDRAWN
    assert withdrawn.request.votes == {}


def test_withdrawing_after_quorum_but_before_running_reopens_the_request() -> None:
    approved = react(react(new(), A1).request, A2).request
    assert approved.status is Outcome.APPROVED
    withdrawn = react(approved, A2, added=False)
    assert withdrawn.result is VoteResult.WITHDRAWN
    assert withdrawn.request.status is Outcome.PENDING


def test_removing_a_reaction_that_never_counted_changes_nothing() -> None:
    request = react(new(), STRANGER).request
    outcome = react(request, STRANGER, added=False)
    assert outcome.result is VoteResult.IGNORED and not outcome.changed


def test_one_authorised_rejection_ends_the_request() -> None:
    approved_once = react(new(), A1).request
    rejected = react(approved_once, A2, "x")
    assert rejected.result is VoteResult.REJECTED
    assert rejected.request.status is Outcome.REJECTED
    assert rejected.request.rejected_by == A2
    late = react(rejected.request, A3)
    assert late.result is VoteResult.CLOSED and late.request == rejected.request


def test_a_rejection_by_a_non_approver_is_ignored() -> None:
    outcome = react(new(), STRANGER, "x")
    assert outcome.result is VoteResult.NOT_APPROVER
    assert outcome.request.status is Outcome.PENDING


def test_the_requester_may_cancel_with_a_reject_reaction() -> None:
    outcome = react(new(), REQUESTER, "x")
    assert outcome.result is VoteResult.REJECTED
    assert outcome.request.rejected_by == REQUESTER


def test_reactions_that_are_not_votes_are_ignored() -> None:
    outcome = react(new(), A1, "eyes")
    assert outcome.result is VoteResult.IGNORED and not outcome.changed


def test_skin_tones_do_not_matter() -> None:
    assert reaction_vote("white_check_mark::skin-tone-3", CONFIG) == "approve"
    assert reaction_vote("x::skin-tone-2", CONFIG) == "reject"
    assert react(new(STAGING), A1, "heavy_check_mark::skin-tone-5").result is VoteResult.APPROVED


def test_after_expiry_nothing_counts() -> None:
    request = react(new(), A1).request
    late = react(request, A2, at=timedelta(minutes=15))
    assert late.result is VoteResult.EXPIRED
    assert late.request.status is Outcome.EXPIRED
    assert late.request.approved_by == (A1,)
    after = react(late.request, A3, at=timedelta(minutes=16))
    assert after.result is VoteResult.CLOSED


def test_a_late_rejection_or_withdrawal_also_finds_the_request_expired() -> None:
    request = react(new(), A1).request
    assert react(request, A2, "x", at=timedelta(hours=1)).request.status is Outcome.EXPIRED
    removed = react(request, A1, added=False, at=timedelta(hours=1))
    assert removed.request.status is Outcome.EXPIRED
    assert removed.request.approved_by == (A1,)


def test_expire_only_touches_pending_requests_past_their_time() -> None:
    request = new()
    assert expire(request, T0 + timedelta(minutes=14)) is request
    expired = expire(request, T0 + timedelta(minutes=15))
    assert expired.status is Outcome.EXPIRED and expired.finished_at == T0 + timedelta(minutes=15)
    approved = react(react(new(), A1).request, A2).request
    assert expire(approved, T0 + timedelta(hours=1)) is approved


def test_force_needs_one_more_approval_to_reach_quorum() -> None:
    request = react(react(new(force=True), A1).request, A2).request
    assert request.status is Outcome.PENDING
    assert react(request, A3).request.status is Outcome.APPROVED


def test_votes_no_longer_count_once_running() -> None:
    approved = react(react(new(), A1).request, A2).request
    running = start(approved, T0 + timedelta(minutes=2))
    assert running.status is Outcome.RUNNING
    assert react(running, A2, added=False).result is VoteResult.CLOSED
    assert react(running, A3, "x").result is VoteResult.CLOSED


# --- Running and finishing -------------------------------------------------------------


def test_a_run_ends_succeeded_failed_or_rolled_back() -> None:
    approved = react(react(new(), A1).request, A2).request
    running = start(approved, T0)
    for outcome in (Outcome.SUCCEEDED, Outcome.FAILED, Outcome.ROLLED_BACK):
        done = finish(running, outcome, "result line", T0 + timedelta(minutes=3))
        assert done.status is outcome and done.result == "result line"
    with pytest.raises(InvalidTransition):
        finish(running, Outcome.APPROVED, "no", T0)


def test_a_refused_recheck_fails_the_request_without_running() -> None:
    approved = react(react(new(), A1).request, A2).request
    aborted = abort(approved, "Another operation is running", T0)
    assert aborted.status is Outcome.FAILED
    assert aborted.result == "Not run: Another operation is running"


def test_transitions_out_of_order_are_refused() -> None:
    with pytest.raises(InvalidTransition):
        start(new(), T0)
    with pytest.raises(InvalidTransition):
        finish(new(), Outcome.SUCCEEDED, "", T0)


def test_a_request_round_trips_through_json() -> None:
    request = react(react(new(force=True), A1).request, STRANGER).request
    stored = json.loads(json.dumps(request.to_dict()))
    assert ApprovalRequest.from_dict(stored) == request
    assert stored["status"] == "Pending"
    assert stored["expires_at"] == "2026-01-01T12:15:00Z"

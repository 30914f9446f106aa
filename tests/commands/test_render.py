"""Approval messages, thread progress and ephemeral answers, within Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commands import progress, render
from commands.approval import (
    ApprovalRequest,
    Outcome,
    abort,
    finish,
    open_request,
    start,
    vote,
)
from commands.config import DeployConfig
from commands.parsing import DeployRequest, RollbackRequest, ShiftRequest, UsageError
from commands.plan import Baseline, OperationPlan, Refusal, plan_operation
from commands.targets import Colour, DeploymentState, Target

CONFIG = DeployConfig.model_validate(
    {
        "deployers": ["U0000DEP01"],
        "approvers": ["U0000APR01", "U0000APR02", "S0000ONCAL", "U0000DEP01"],
        "services": {
            "api": {
                "channel": "C0000DEPLY",
                "environments": {
                    "production": {
                        "approvals": 2,
                        "bake": "5m",
                        "health_url": "https://api.example.com/healthz",
                    }
                },
            }
        },
    }
)
PROD = Target("api", "production")
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
REQUESTER, A1, A2 = "U0000DEP01", "U0000APR01", "U0000APR02"


def state(blue_weight: int) -> DeploymentState:
    weights: dict[Colour, int] = {"blue": blue_weight, "green": 100 - blue_weight}
    return DeploymentState("blue", {"blue": "v1.3.0", "green": "v1.4.0"}, weights)


def make_plan(
    request: DeployRequest | ShiftRequest | RollbackRequest, blue_weight: int = 100
) -> OperationPlan:
    plan = plan_operation(request, state(blue_weight), CONFIG, baseline=Baseline("blue", "v1.3.0"))
    assert isinstance(plan, OperationPlan)
    return plan


SHIFT_10 = make_plan(ShiftRequest(PROD, 10))


def pending(plan: OperationPlan = SHIFT_10) -> ApprovalRequest:
    return open_request("req-1", plan, REQUESTER, CONFIG, T0)


def approved() -> ApprovalRequest:
    request = pending()
    for user in (A1, A2):
        request = vote(request, user, "white_check_mark", True, T0, True, config=CONFIG).request
    return request


def in_every_outcome() -> dict[Outcome, ApprovalRequest]:
    ok = approved()
    running = start(ok, T0 + timedelta(minutes=1))
    later = T0 + timedelta(minutes=9)
    return {
        Outcome.PENDING: pending(),
        Outcome.APPROVED: ok,
        Outcome.REJECTED: vote(pending(), A1, "x", True, T0, True, config=CONFIG).request,
        Outcome.EXPIRED: vote(
            pending(), A1, "white_check_mark", True, T0 + timedelta(hours=1), True, config=CONFIG
        ).request,
        Outcome.RUNNING: running,
        Outcome.SUCCEEDED: finish(
            running, Outcome.SUCCEEDED, progress.result_succeeded(SHIFT_10), later
        ),
        Outcome.FAILED: abort(ok, "Another operation is running for api/production.", later),
        Outcome.ROLLED_BACK: finish(
            running,
            Outcome.ROLLED_BACK,
            progress.result_rolled_back(SHIFT_10, "P1 HighErrorRate fired during the bake"),
            later,
        ),
    }


def texts(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


def assert_within_slack_limits(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert len(blocks) <= 50
    assert len(message["text"]) <= 3000
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            for field in block.get("fields", []):
                assert len(field["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
        if block["type"] == "context":
            assert all(len(e["text"]) <= 2000 for e in block["elements"])


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_outcome_word_is_shown_in_the_header_and_fallback(outcome: Outcome) -> None:
    request = in_every_outcome()[outcome]
    assert request.status is outcome
    message = render.render_approval(request, CONFIG)
    assert_within_slack_limits(message)
    header = message["blocks"][0]["text"]["text"]
    assert f"{outcome.value} · Shift 10% of api/production to green" in header
    assert message["text"] == f"{outcome.value}: /shift 10 api production"


def test_the_pending_message_shows_everything_an_approver_needs() -> None:
    message = render.render_approval(pending(), CONFIG, firing_alerts=["P2 DiskFilling on db-1"])
    body = texts(message)
    assert "<@U0000DEP01> requests `/shift 10 api production`" in body
    assert "*Traffic:* blue 100% -> blue 90% / green 10%" in body
    assert "*Versions:* blue v1.3.0 · green v1.4.0" in body
    assert "*Approvals*\\n0 of 2: none yet" in body
    assert "<!date^1767269700^{date_short_pretty} at {time}|2026-01-01 12:15 UTC>" in body
    assert "*Firing for api*\\n• P2 DiskFilling on db-1" in body
    assert "1. Set traffic to blue 90% / green 10%" in body
    assert "2. Health check green (https://api.example.com/healthz)" in body
    assert "3. Bake for 5m: a P0/P1 alert for api rolls back" in body
    assert "Who may approve: <@U0000APR01>, <@U0000APR02>, <!subteam^S0000ONCAL>." in body
    assert ":white_check_mark: or :heavy_check_mark:" in body and ":x:" in body
    # The requester is an approver too, but is not offered as one.
    assert "Who may approve: <@U0000DEP01>" not in body and ", <@U0000DEP01>" not in body


def test_approvals_received_are_named() -> None:
    body = texts(render.render_approval(approved(), CONFIG))
    assert "*Approvals*\\n2 of 2: <@U0000APR01>, <@U0000APR02>" in body
    running = texts(render.render_approval(start(approved(), T0), CONFIG))
    assert "Approve with" not in running
    assert "*Started*" in running and "*Expires*" not in running


def test_a_rejection_names_who_rejected() -> None:
    body = texts(render.render_approval(in_every_outcome()[Outcome.REJECTED], CONFIG))
    assert "*Rejected by*\\n<@U0000APR01>" in body
    assert "Approve with" not in body


def test_finished_requests_show_the_result_line() -> None:
    outcomes = in_every_outcome()
    succeeded = texts(render.render_approval(outcomes[Outcome.SUCCEEDED], CONFIG))
    assert "*Result:* Traffic is now blue 90% / green 10%." in succeeded
    failed = texts(render.render_approval(outcomes[Outcome.FAILED], CONFIG))
    assert "*Result:* Not run: Another operation is running for api/production." in failed
    rolled = texts(render.render_approval(outcomes[Outcome.ROLLED_BACK], CONFIG))
    assert "P1 HighErrorRate fired during the bake; traffic was returned to blue 100%." in rolled
    assert "*Finished*" in rolled


def test_deploy_and_rollback_show_their_state_change() -> None:
    deploy = make_plan(DeployRequest(PROD, "v1.5.0"), blue_weight=0)
    body = texts(render.render_approval(pending(deploy), CONFIG))
    assert "Deploy v1.5.0 to api/production" in body
    assert "*Versions:* blue v1.3.0 -> v1.5.0 · green v1.4.0" in body
    assert "*Traffic:* green 100% (unchanged)" in body
    rollback = make_plan(RollbackRequest(PROD), blue_weight=50)
    body = texts(render.render_approval(pending(rollback), CONFIG))
    assert "Roll back api/production to blue" in body
    assert "blue 50% / green 50% -> blue 100% (blue becomes live)" in body


def test_force_is_called_out() -> None:
    forced = make_plan(ShiftRequest(PROD, 10, force=True))
    body = texts(render.render_approval(pending(forced), CONFIG))
    assert "`/shift 10 api production --force`" in body
    assert "needs 1 more approval(s) than usual" in body
    assert "0 of 3" in body


def test_huge_alert_lists_and_hostile_text_stay_within_limits() -> None:
    alerts = [f"<!channel> alert {i} " + "x" * 5000 for i in range(500)]
    message = render.render_approval(pending(), CONFIG, firing_alerts=alerts)
    assert_within_slack_limits(message)
    body = texts(message)
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body
    assert "+490 more firing" in body


def test_thread_progress_lines() -> None:
    assert progress.progress_started(approved()) == (
        "🔄 Running `/shift 10 api production`, approved by <@U0000APR01>, <@U0000APR02>."
    )
    assert progress.progress_step_started(SHIFT_10, 1) == (
        "▶️ Step 1/3: Set traffic to blue 90% / green 10%"
    )
    assert progress.progress_step_finished(SHIFT_10, 2, timedelta(seconds=3)) == (
        "✔️ Step 2/3 done in 3s: Health check green (https://api.example.com/healthz)"
    )
    failed = progress.progress_step_finished(SHIFT_10, 2, timedelta(seconds=5), error="HTTP 503")
    assert failed == (
        "✖️ Step 2/3 failed after 5s: Health check green (https://api.example.com/healthz). HTTP 503"
    )
    assert progress.progress_rolled_back(SHIFT_10, "health check failed") == (
        "↩️ Rolled back automatically: health check failed. Traffic is now blue 100%."
    )
    done = progress.progress_finished(in_every_outcome()[Outcome.SUCCEEDED])
    assert done == "✅ Succeeded: Traffic is now blue 90% / green 10%."


def test_an_interrupted_operation_is_reported_with_its_step_and_state() -> None:
    line = progress.progress_interrupted(SHIFT_10, 3, state(90))
    assert "interrupted at step 3/3 (Bake for 5m" in line
    assert "State now: blue v1.3.0 (90%), green v1.4.0 (10%)" in line
    assert "`/rollback` or `/shift`" in line


def test_result_lines() -> None:
    deploy = make_plan(DeployRequest(PROD, "v1.5.0"), blue_weight=0)
    assert progress.result_succeeded(deploy) == (
        "blue runs v1.5.0; traffic unchanged (green 100%). Next: `/shift`."
    )
    full = make_plan(ShiftRequest(PROD, 100), blue_weight=50)
    assert progress.result_succeeded(full) == ("Traffic is now green 100%; green (v1.4.0) is live.")
    back = make_plan(RollbackRequest(PROD), blue_weight=0)
    assert progress.result_succeeded(back) == "Traffic is back on blue (v1.3.0): blue 100%."
    assert progress.result_failed(deploy, 1, "deadline <exceeded>", state(0)) == (
        "Deploy v1.5.0 to blue and wait until healthy (timeout 10m) failed: "
        "deadline &lt;exceeded&gt;. Traffic stayed green 100%."
    )


def test_ephemeral_answers() -> None:
    error = UsageError("33% is not an allowed step.", "/shift <percent>")
    assert render.usage_error(error) == "33% is not an allowed step.\nUsage: `/shift <percent>`"
    assert render.not_approver(pending()) == (
        "Your reaction does not count: you are not an approver for api/production. "
        "(You are told this once per request.)"
    )
    assert ":x:" in render.own_approval(CONFIG)
    assert render.not_deployer("/deploy", "api", "production") == (
        "You are not a deployer for api/production, so `/deploy` cannot run for you."
    )
    assert render.rate_limited(100, timedelta(seconds=12.2)) == (
        "Slow down: at most 100 commands per minute per person. Try again in 13s."
    )
    assert (
        render.refused(Refusal("Nothing to roll back.")) == "Cannot do that: Nothing to roll back."
    )
    assert render.request_posted("C0000DEPLY", timedelta(minutes=15)) == (
        "Approval request posted in <#C0000DEPLY>; it expires in 15m."
    )

"""A request and the platform's state become an operation plan, or a clear refusal."""

from __future__ import annotations

import json

import pytest

from commands.config import DeployConfig
from commands.parsing import DeployRequest, OperationRequest, RollbackRequest, ShiftRequest
from commands.plan import (
    Baseline,
    OperationPlan,
    Refusal,
    Step,
    plan_operation,
    recheck,
    request_of,
    still_valid,
)
from commands.targets import Colour, DeploymentState, Target

CONFIG = DeployConfig.model_validate(
    {
        "services": {
            "api": {
                "channel": "C0000DEPLY",
                "environments": {
                    "staging": {"bake": "0s"},
                    "production": {
                        "approvals": 2,
                        "steps": [10, 50, 100],
                        "bake": "5m",
                        "rollout_timeout": "8m",
                        "health_url": "https://api.example.com/healthz",
                    },
                },
            }
        }
    }
)
PROD, STAGING = Target("api", "production"), Target("api", "staging")


def HEALTH(colour: str) -> Step:
    """The health check step with the environment's defaults (200 within 5 s)."""
    return Step(
        "health_check",
        colour=colour,  # type: ignore[arg-type]
        url="https://api.example.com/healthz",
        seconds=5.0,
        expect_status=200,
    )


def state(blue: str | None, green: str | None, blue_weight: int = 100) -> DeploymentState:
    weights: dict[Colour, int] = {"blue": blue_weight, "green": 100 - blue_weight}
    live: Colour = "blue" if blue_weight >= 50 else "green"
    return DeploymentState(live, {"blue": blue, "green": green}, weights)


AT_REST = state("v1.3.0", "v1.2.0")
DEPLOYED = state("v1.3.0", "v1.4.0")


def ok(
    request: OperationRequest, current: DeploymentState, baseline: Baseline | None = None
) -> OperationPlan:
    plan = plan_operation(request, current, CONFIG, baseline=baseline)
    assert isinstance(plan, OperationPlan), plan
    return plan


def refused(
    request: OperationRequest, current: DeploymentState, baseline: Baseline | None = None
) -> str:
    refusal = plan_operation(request, current, CONFIG, baseline=baseline)
    assert isinstance(refusal, Refusal), refusal
    return refusal.message


def shift(percent: int) -> ShiftRequest:
    return ShiftRequest(PROD, percent)


# --- /deploy ---------------------------------------------------------------------------


def test_deploy_rolls_the_idle_colour_and_leaves_traffic_alone() -> None:
    plan = ok(DeployRequest(PROD, "v1.4.0"), AT_REST)
    assert plan.kind == "deploy"
    assert plan.to_state.versions == {"blue": "v1.3.0", "green": "v1.4.0"}
    assert plan.to_state.weights == {"blue": 100, "green": 0}
    assert plan.steps == (
        Step("deploy", colour="green", version="v1.4.0", seconds=480.0),
        HEALTH("green"),
    )
    assert plan.baseline == Baseline("blue", "v1.3.0")
    assert plan.rollback_weights is None


def test_deploy_without_health_url_has_no_health_check_step() -> None:
    plan = ok(DeployRequest(STAGING, "v1.4.0"), AT_REST)
    assert [s.kind for s in plan.steps] == ["deploy"]
    assert plan.steps[0].seconds == 600.0  # Kubernetes' own progress deadline


def test_deploy_to_a_fresh_environment() -> None:
    plan = ok(DeployRequest(PROD, "v1.0.0"), state(None, None))
    assert plan.to_state.versions == {"blue": None, "green": "v1.0.0"}


def test_deploying_the_live_version_is_refused() -> None:
    message = refused(DeployRequest(PROD, "v1.3.0"), AT_REST)
    assert message == "v1.3.0 is already live on blue for api/production; nothing to deploy."


def test_deploying_while_traffic_is_split_is_refused() -> None:
    message = refused(DeployRequest(PROD, "v1.5.0"), state("v1.3.0", "v1.4.0", 90))
    assert "Traffic for api/production is split (blue 90% / green 10%)" in message
    assert "`/shift 100`" in message and "`/rollback`" in message


def test_redeploying_the_idle_version_is_allowed_as_a_retry() -> None:
    assert ok(DeployRequest(PROD, "v1.4.0"), DEPLOYED).steps[0].colour == "green"


def test_deploy_after_a_completed_release_targets_the_old_colour() -> None:
    plan = ok(DeployRequest(PROD, "v1.5.0"), state("v1.3.0", "v1.4.0", 0))
    assert plan.steps[0].colour == "blue"
    assert plan.baseline == Baseline("green", "v1.4.0")


# --- /shift ----------------------------------------------------------------------------


def test_shift_10_50_100_moves_traffic_to_the_new_colour() -> None:
    deployed = ok(DeployRequest(PROD, "v1.4.0"), AT_REST)
    ten = ok(shift(10), deployed.to_state, deployed.baseline)
    assert ten.from_state.weights == {"blue": 100, "green": 0}
    assert ten.to_state.weights == {"blue": 90, "green": 10}
    assert ten.steps == (
        Step("set_weights", weights={"blue": 90, "green": 10}),
        HEALTH("green"),
        Step("bake", seconds=300.0),
    )
    assert ten.rollback_weights == {"blue": 100, "green": 0}

    fifty = ok(shift(50), ten.to_state, ten.baseline)
    assert fifty.to_state.weights == {"blue": 50, "green": 50}

    hundred = ok(shift(100), fifty.to_state, fifty.baseline)
    assert hundred.to_state.weights == {"blue": 0, "green": 100}
    assert hundred.to_state.live == "green"  # at 100 the idle colour becomes live
    assert hundred.rollback_weights == {"blue": 100, "green": 0}
    assert hundred.baseline == Baseline("blue", "v1.3.0")


def test_the_baseline_decides_direction_at_fifty_fifty() -> None:
    # Green was live with v1.3.0; blue got v1.4.0. At 50/50 the backend calls blue live.
    half = DeploymentState("blue", {"blue": "v1.4.0", "green": "v1.3.0"}, {"blue": 50, "green": 50})
    plan = ok(shift(100), half, Baseline("green", "v1.3.0"))
    assert plan.to_state.weights == {"blue": 100, "green": 0}
    back = ok(RollbackRequest(PROD), half, Baseline("green", "v1.3.0"))
    assert back.to_state.weights == {"blue": 0, "green": 100}


def test_without_a_baseline_the_majority_colour_is_the_old_one() -> None:
    plan = ok(shift(50), state("v1.3.0", "v1.4.0", 90))
    assert plan.baseline == Baseline("blue", "v1.3.0")
    assert plan.to_state.weights == {"blue": 50, "green": 50}


def test_a_stale_baseline_is_ignored() -> None:
    # The bot remembers blue at v1.1.0, but someone redeployed blue outside the bot.
    plan = ok(shift(10), DEPLOYED, Baseline("blue", "v1.1.0"))
    assert plan.baseline == Baseline("blue", "v1.3.0")


def test_shifting_back_down_is_a_partial_rollback() -> None:
    plan = ok(shift(10), state("v1.3.0", "v1.4.0", 50), Baseline("blue", "v1.3.0"))
    assert plan.to_state.weights == {"blue": 90, "green": 10}


def test_shifting_to_an_idle_colour_without_version_is_refused() -> None:
    message = refused(shift(10), state("v1.3.0", None))
    assert "green runs no version for api/production yet" in message
    assert "`/deploy api <version> production`" in message


def test_shifting_between_identical_versions_is_refused() -> None:
    message = refused(shift(10), state("v1.3.0", "v1.3.0"))
    assert "Both colours run v1.3.0 for api/production" in message


def test_shifting_to_the_current_share_is_refused() -> None:
    message = refused(shift(10), state("v1.3.0", "v1.4.0", 90))
    assert message == "green (v1.4.0) already takes 10% of api/production's traffic."


def test_staging_without_bake_has_no_bake_step() -> None:
    plan = ok(ShiftRequest(STAGING, 100), DEPLOYED)
    assert [s.kind for s in plan.steps] == ["set_weights"]


def test_weights_that_do_not_add_up_are_refused() -> None:
    broken = DeploymentState("blue", {"blue": "v1", "green": "v2"}, {"blue": 80, "green": 0})
    assert "do not add up to 100%" in refused(shift(10), broken)


# --- /rollback -------------------------------------------------------------------------


def test_rollback_mid_shift_returns_all_traffic_to_the_old_colour() -> None:
    plan = ok(RollbackRequest(PROD), state("v1.3.0", "v1.4.0", 50), Baseline("blue", "v1.3.0"))
    assert plan.to_state.weights == {"blue": 100, "green": 0}
    assert plan.steps == (
        Step("set_weights", weights={"blue": 100, "green": 0}),
        HEALTH("blue"),
    )
    assert plan.rollback_weights is None


def test_rollback_after_a_full_shift_returns_to_the_previous_live_colour() -> None:
    plan = ok(RollbackRequest(PROD), state("v1.3.0", "v1.4.0", 0), Baseline("blue", "v1.3.0"))
    assert plan.to_state.weights == {"blue": 100, "green": 0}
    assert plan.to_state.live == "blue"


def test_rollback_with_nothing_shifted_is_refused() -> None:
    message = refused(RollbackRequest(PROD), DEPLOYED, Baseline("blue", "v1.3.0"))
    assert message.startswith("Nothing to roll back for api/production: blue (v1.3.0)")


def test_rollback_without_history_after_a_full_shift_points_to_shift() -> None:
    message = refused(RollbackRequest(PROD), state("v1.3.0", "v1.4.0", 0))
    assert "Nothing to roll back" in message
    assert "To move traffic to blue (v1.3.0) instead, use `/shift`." in message


def test_rollback_to_a_colour_without_version_is_refused() -> None:
    current = DeploymentState("green", {"blue": None, "green": "v1"}, {"blue": 10, "green": 90})
    message = refused(RollbackRequest(PROD), current, Baseline("blue", None))
    assert message == (
        "Nothing to roll back to for api/production: blue, the previous live colour, "
        "runs no version."
    )


# --- Re-checks before running ----------------------------------------------------------


def test_still_valid_until_someone_changes_the_platform() -> None:
    plan = ok(shift(10), DEPLOYED)
    assert still_valid(plan, DEPLOYED)
    same_but_sparse = DeploymentState("blue", {"blue": "v1.3.0", "green": "v1.4.0"}, {"blue": 100})
    assert still_valid(plan, same_but_sparse)
    assert not still_valid(plan, state("v1.3.0", "v1.4.0", 90))  # someone shifted meanwhile
    assert not still_valid(plan, state("v1.3.0", "v1.4.1"))  # someone redeployed


def test_recheck_names_what_blocks_the_run() -> None:
    plan = ok(shift(10), DEPLOYED)
    assert recheck(plan, DEPLOYED, busy=False) is None
    assert "Another operation is running for api/production" in str(
        recheck(plan, DEPLOYED, busy=True)
    )
    drift = recheck(plan, state("v1.3.0", "v1.4.0", 50), busy=False)
    assert drift is not None
    assert "it was blue v1.3.0 (100%), green v1.4.0 (0%)" in drift
    assert "it is now blue v1.3.0 (50%), green v1.4.0 (50%)" in drift
    alerts = recheck(plan, DEPLOYED, busy=False, blocking_alerts=["P1 HighErrorRate"])
    assert alerts is not None and "P1 HighErrorRate" in alerts and "--force" in alerts


def test_force_runs_despite_firing_alerts() -> None:
    plan = ok(ShiftRequest(PROD, 10, force=True), DEPLOYED)
    assert recheck(plan, DEPLOYED, busy=False, blocking_alerts=["P0 Down"]) is None


# --- Storage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "current", "baseline"),
    [
        (DeployRequest(PROD, "v1.4.0", force=True), AT_REST, None),
        (ShiftRequest(PROD, 50), state("v1.3.0", "v1.4.0", 90), Baseline("blue", "v1.3.0")),
        (RollbackRequest(PROD), state("v1.3.0", "v1.4.0", 0), Baseline("blue", "v1.3.0")),
    ],
)
def test_plans_round_trip_through_json(
    request_: OperationRequest, current: DeploymentState, baseline: Baseline | None
) -> None:
    plan = ok(request_, current, baseline)
    stored = json.loads(json.dumps(plan.to_dict()))
    assert OperationPlan.from_dict(stored) == plan
    assert request_of(plan) == request_


def test_malformed_stored_plans_are_rejected() -> None:
    stored = ok(shift(10), DEPLOYED).to_dict()
    stored["steps"][0]["kind"] = "rm -rf"
    with pytest.raises(ValueError):
        OperationPlan.from_dict(stored)

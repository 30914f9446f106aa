"""The step-action registry: specs and parameter schemas, and executors bound per type."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from actions.steps.registry import StepContext, StepOutcome, build_registry
from alerts.runbooks.specs import K8sLogsParams, ParamsError, UnknownActionError, validate_scale


def test_the_six_action_types_and_which_change_things() -> None:
    registry = build_registry()

    assert registry.types() == [
        "alertmanager.silence",
        "http.check",
        "k8s.logs",
        "k8s.pods",
        "k8s.restart",
        "k8s.scale",
    ]
    changing = {spec.type for spec in registry if spec.changes_things}
    assert changing == {"k8s.restart", "k8s.scale", "alertmanager.silence"}
    assert registry.needs_approval("k8s.pods", requires_approval=False) is False
    assert registry.needs_approval("k8s.pods", requires_approval=True) is True
    assert registry.needs_approval("k8s.scale", requires_approval=False) is True
    assert any("k8s.scale" in line and "needs approval" in line for line in registry.help_lines())


def test_defaults_and_bounds_of_the_parameters() -> None:
    registry = build_registry()

    logs = registry.validate("k8s.logs", {"namespace": "sergas", "workload": "api-blue"})
    assert logs == K8sLogsParams(namespace="sergas", workload="api-blue", lines=100, container=None)
    check = registry.validate("http.check", {"url": "https://sam.sergas.example/health"})
    assert check.model_dump() == {
        "url": "https://sam.sergas.example/health",
        "expect_status": 200,
        "timeout": 5.0,
    }
    silence = registry.validate("alertmanager.silence", {"duration": "7d"})
    assert silence.model_dump() == {"duration": timedelta(days=7)}


@pytest.mark.parametrize(
    ("action_type", "params", "problem"),
    [
        (
            "k8s.logs",
            {"namespace": "s", "workload": "w", "lines": 0},
            "lines: Input should be greater",
        ),
        (
            "k8s.logs",
            {"namespace": "s", "workload": "w", "lines": 1001},
            "lines: Input should be less",
        ),
        (
            "k8s.logs",
            {"namespace": "s", "workload": "w", "container": "A"},
            "container: 'A' is not",
        ),
        ("k8s.logs", {"namespace": "s", "workload": "w", "lines": "100"}, "valid integer"),
        ("k8s.scale", {"namespace": "s", "deployment": "d", "replicas": -1}, "replicas: Input"),
        ("k8s.scale", {"namespace": "s", "deployment": "d", "replicas": True}, "valid integer"),
        ("k8s.restart", {"namespace": "a" * 64, "deployment": "d"}, "namespace: 'aaaa"),
        ("k8s.restart", {"namespace": "s", "deployment": "d", "force": True}, "force: unknown"),
        ("k8s.pods", {"namespace": "s"}, "workload: required parameter is missing"),
        ("alertmanager.silence", {"duration": "0s"}, "longer than 0s"),
        ("alertmanager.silence", {"duration": "8d"}, "longer than the 7d"),
        ("alertmanager.silence", {"duration": 3600}, "not a duration"),
        ("alertmanager.silence", {"duration": "-1h"}, "negative"),
        ("http.check", {"url": "file:///etc/passwd"}, "not an http:// or https:// URL"),
        ("http.check", {"url": "https://"}, "not an http:// or https:// URL"),
        ("http.check", {"url": "https://u:p@host/"}, "must not carry credentials"),
        ("http.check", {"url": "https://h/", "timeout": 31}, "timeout: Input should be less"),
        ("http.check", {"url": "https://h/", "timeout": 0}, "timeout: Input should be greater"),
        ("http.check", {"url": "https://h/", "expect_status": 99}, "expect_status: Input"),
    ],
)
def test_parameters_are_refused_with_the_parameter_named(
    action_type: str, params: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ParamsError) as caught:
        build_registry().validate(action_type, params)

    assert problem in str(caught.value)
    assert caught.value.action_type == action_type


def test_a_scale_above_the_configured_maximum_is_refused_clearly() -> None:
    validate_scale(10, maximum=10)
    validate_scale(0, maximum=10)

    with pytest.raises(ParamsError) as caught:
        validate_scale(12, maximum=10)

    assert str(caught.value) == (
        "replicas: 12 is above the maximum of 10 replicas the bot may set; "
        "scale by hand or raise the maximum in the config"
    )


async def test_an_executor_is_bound_per_type_and_gets_validated_params() -> None:
    registry = build_registry()
    seen: list[tuple[Any, StepContext]] = []

    async def pods(params: Any, context: StepContext) -> StepOutcome:
        seen.append((params, context))
        return StepOutcome(ok=True, text="3 pods Running")

    registry.bind("k8s.pods", pods)
    params = registry.validate("k8s.pods", {"namespace": "sergas", "workload": "api-blue"})
    context = StepContext(alert_group_id=7, runbook_id="SCALING", step_id="check-pods", user="U1")

    outcome = await registry.executor("k8s.pods")(params, context)

    assert outcome == StepOutcome(ok=True, text="3 pods Running")
    assert seen == [(params, context)]
    assert registry.is_bound("k8s.pods") and not registry.is_bound("k8s.logs")


def test_binding_mistakes_are_wiring_errors() -> None:
    registry = build_registry()

    async def run(params: Any, context: StepContext) -> StepOutcome:
        return StepOutcome(ok=True, text="")

    with pytest.raises(UnknownActionError):
        registry.bind("k8s.delete", run)
    with pytest.raises(UnknownActionError, match="no executor is bound"):
        registry.executor("k8s.scale")
    registry.bind("k8s.scale", run)
    with pytest.raises(ValueError, match="already has an executor"):
        registry.bind("k8s.scale", run)
    registry.bind("k8s.scale", run, replace=True)


def test_each_registry_is_fresh() -> None:
    first, second = build_registry(), build_registry()

    async def run(params: Any, context: StepContext) -> StepOutcome:
        return StepOutcome(ok=True, text="")

    first.bind("http.check", run)

    assert first.is_bound("http.check")
    assert not second.is_bound("http.check")

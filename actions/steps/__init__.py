"""Runbook step actions: the registry of types and parameter schemas, and (bound at wiring
time) the executors that run them against Kubernetes, Alertmanager and HTTP endpoints."""

from actions.steps.registry import (
    REGISTRY,
    ActionSpec,
    ParamProblem,
    Params,
    ParamsError,
    StepContext,
    StepExecutor,
    StepOutcome,
    StepRegistry,
    UnknownActionError,
    build_registry,
    validate_scale,
)

__all__ = [
    "REGISTRY",
    "ActionSpec",
    "ParamProblem",
    "Params",
    "ParamsError",
    "StepContext",
    "StepExecutor",
    "StepOutcome",
    "StepRegistry",
    "UnknownActionError",
    "build_registry",
    "validate_scale",
]

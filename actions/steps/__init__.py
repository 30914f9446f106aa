"""Runbook step actions as they reach the world: the executors bound per type at wiring
time, what each is told about its click, and what it answers. What a step declares (its
parameters and targets, whether it changes things) is domain data: alerts/runbooks/specs.py.
"""

from actions.steps.registry import (
    REGISTRY,
    StepContext,
    StepExecutor,
    StepOutcome,
    StepRegistry,
    build_registry,
)

__all__ = [
    "REGISTRY",
    "StepContext",
    "StepExecutor",
    "StepOutcome",
    "StepRegistry",
    "build_registry",
]

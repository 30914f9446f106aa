"""The one interface every deploy backend implements.

The approval workflow (commands/) plans an operation against a `DeploymentState` (plain
data in commands/targets.py) and the runner (bot/) executes it through a `Backend`.
Backends know nothing about Slack or approvals: they read state, roll a colour to a
version, and set traffic weights.
"""

from __future__ import annotations

from typing import Protocol

from commands.targets import Colour, DeploymentState, Target


class BackendError(Exception):
    """The backend could not do what was asked; the message is safe to show in Slack."""


class TemporaryBackendError(BackendError):
    """A transient failure (timeout talking to the API, 5xx, throttling): worth a retry."""


class RolloutFailed(BackendError):
    """The new version did not become healthy (failed pods or tasks, or the deadline passed)."""


class Backend(Protocol):
    async def state(self, target: Target) -> DeploymentState:
        """Read the current versions and weights from the platform."""
        ...

    async def deploy(self, target: Target, colour: Colour, version: str, *, timeout: float) -> None:
        """Roll `colour` to `version` and wait until it is healthy; traffic is not touched.

        Raises RolloutFailed when it does not become healthy within `timeout` seconds.
        """
        ...

    async def set_weights(self, target: Target, weights: dict[Colour, int]) -> None:
        """Send `weights[colour]` percent of traffic to each colour (they sum to 100)."""
        ...

"""What an operation is about: a service in an environment, its two colours and their state.

Plain data shared by the approval workflow (which plans against a `DeploymentState`) and
the deploy backends in actions/ (which read and change it). It lives with the domain so
that commands/ never has to import the layer that talks to Kubernetes or AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Colour = Literal["blue", "green"]
COLOURS: tuple[Colour, Colour] = ("blue", "green")


def other(colour: Colour) -> Colour:
    return "green" if colour == "blue" else "blue"


@dataclass(frozen=True)
class Target:
    """One service in one environment, e.g. api/production."""

    service: str
    environment: str


@dataclass(frozen=True)
class DeploymentState:
    """What is running now: the version of each colour and how traffic is split.

    `live` is the colour that holds the majority of traffic (blue on a tie, which only
    happens mid-shift at 50%); `weights` always sum to 100.
    """

    live: Colour
    versions: dict[Colour, str | None] = field(default_factory=dict)
    weights: dict[Colour, int] = field(default_factory=dict)

    @property
    def idle(self) -> Colour:
        return other(self.live)

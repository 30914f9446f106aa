"""The `dryrun` deploy backend: a pretend platform that remembers what it was told.

The sandbox, demos and flow tests need a backend that behaves like a real one (state
that changes with deploys and shifts, and survives a restart) without a cluster. State
lives in whatever `DryRunStore` the caller gives (the bot keeps it in its database):
each target starts with blue live at 100% on its initial version, green idle and empty.
Every call is appended to the target's `history`, which is how the plan is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from actions.deploy.base import BackendError
from commands.targets import COLOURS, Colour, DeploymentState, Target

DEFAULT_VERSION = "v0.0.0"
MAX_HISTORY = 100


class DryRunStore(Protocol):
    async def load(self, target: Target) -> dict[str, Any] | None: ...

    async def save(self, target: Target, state: dict[str, Any]) -> None: ...


def _majority(weights: Mapping[Colour, int]) -> Colour:
    return "blue" if weights.get("blue", 0) >= weights.get("green", 0) else "green"


class DryRunBackend:
    """`initial_version(target)` gives blue's version for a target seen the first time."""

    def __init__(
        self,
        store: DryRunStore,
        initial_version: Callable[[Target], str | None] = lambda _target: None,
    ) -> None:
        self._store = store
        self._initial_version = initial_version

    async def _load(self, target: Target) -> dict[str, Any]:
        data = await self._store.load(target)
        if data is None:
            data = {
                "versions": {"blue": self._initial_version(target) or DEFAULT_VERSION},
                "weights": {"blue": 100, "green": 0},
                "history": [],
            }
        return data

    async def _record(self, target: Target, data: dict[str, Any], entry: dict[str, Any]) -> None:
        data["history"] = [*data.get("history", []), entry][-MAX_HISTORY:]
        await self._store.save(target, data)

    async def state(self, target: Target) -> DeploymentState:
        data = await self._load(target)
        versions: dict[Colour, str | None] = {c: data["versions"].get(c) for c in COLOURS}
        weights: dict[Colour, int] = {c: int(data["weights"].get(c, 0)) for c in COLOURS}
        return DeploymentState(live=_majority(weights), versions=versions, weights=weights)

    async def deploy(self, target: Target, colour: Colour, version: str, *, timeout: float) -> None:
        data = await self._load(target)
        data["versions"] = {**data["versions"], colour: version}
        await self._record(target, data, {"deploy": colour, "version": version})

    async def set_weights(self, target: Target, weights: dict[Colour, int]) -> None:
        if set(weights) - set(COLOURS) or sum(weights.values()) != 100:
            raise BackendError(f"weights must be blue/green and sum to 100, not {weights}")
        data = await self._load(target)
        data["weights"] = {c: int(weights.get(c, 0)) for c in COLOURS}
        await self._record(target, data, {"set_weights": data["weights"]})

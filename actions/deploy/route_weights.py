"""Traffic weights in a Gateway API HTTPRoute: read the blue/green split, write a new one.

Plain arithmetic on the route object as the API server returns it. Other backends and
fields of the route are kept, and routes the bot cannot reason about (other backends next
to ours, rules that disagree) are refused rather than guessed at.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from actions.deploy.base import BackendError
from actions.deploy.kubernetes_config import KubernetesTargetConfig
from commands.targets import COLOURS, Colour, Target, other


def checked_weights(weights: Mapping[Colour, int]) -> dict[Colour, int]:
    values = {colour: weights.get(colour, 0) for colour in COLOURS}
    if (
        set(weights) - set(COLOURS)
        or any(type(v) is not int or not 0 <= v <= 100 for v in values.values())
        or sum(values.values()) != 100
    ):
        raise BackendError(f"Weights must be whole percentages adding up to 100, not {weights}")
    return values


def _colour_refs(
    rule: Any, services: dict[Colour, str], where: str
) -> dict[Colour, dict[str, Any]]:
    """The rule's backendRefs to our two Services, refusing rules we cannot reason about."""
    refs = rule.get("backendRefs") if isinstance(rule, dict) else None
    found: dict[Colour, dict[str, Any]] = {}
    others = 0
    for ref in refs if isinstance(refs, list) else []:
        colour = next((c for c in COLOURS if ref.get("name") == services[c]), None)
        ours = ref.get("kind", "Service") == "Service" and ref.get("group", "") == ""
        if colour is not None and ours:
            if colour in found:
                raise BackendError(
                    f"HTTPRoute {where} refers to {services[colour]} twice in one rule"
                )
            found[colour] = ref
        elif ref.get("weight", 1):
            others += 1
    if found and others:
        raise BackendError(
            f"HTTPRoute {where} also sends traffic to other backends next to "
            f"{services['blue']}/{services['green']}; the bot only manages a two-colour split"
        )
    return found


def route_split(
    route: dict[str, Any], cfg: KubernetesTargetConfig, target: Target
) -> dict[Colour, int]:
    services, where = cfg.service_names(target), f"{cfg.namespace}/{cfg.route}"
    splits: set[int] = set()
    for rule in route["spec"].get("rules") or []:
        refs = _colour_refs(rule, services, where)
        if not refs:
            continue
        # Gateway API: a backendRef without weight has weight 1; a missing one has 0.
        raw = {
            colour: int(refs[colour].get("weight", 1)) if colour in refs else 0
            for colour in COLOURS
        }
        total = sum(raw.values())
        if total <= 0:
            raise BackendError(f"HTTPRoute {where} gives both colours weight 0")
        splits.add(round(100 * raw["blue"] / total))
    if not splits:
        raise BackendError(
            f"HTTPRoute {where} has no backendRefs to {services['blue']} or {services['green']}"
        )
    if len(splits) > 1:
        raise BackendError(f"HTTPRoute {where} splits traffic differently in different rules")
    blue = splits.pop()
    return {"blue": blue, "green": 100 - blue}


def rules_with_weights(
    route: dict[str, Any], cfg: KubernetesTargetConfig, target: Target, weights: dict[Colour, int]
) -> list[Any]:
    """The route's rules with our backendRefs re-weighted and every other field kept."""
    services, where = cfg.service_names(target), f"{cfg.namespace}/{cfg.route}"
    rules = copy.deepcopy(route["spec"].get("rules") or [])
    touched = False
    for rule in rules:
        refs = _colour_refs(rule, services, where)
        if not refs:
            continue
        touched = True
        for colour, ref in refs.items():
            ref["weight"] = weights[colour]
        for colour in COLOURS:
            if colour not in refs and weights[colour] > 0:
                # Copy the other colour's ref (port, namespace, filters) under our name.
                twin = copy.deepcopy(refs[other(colour)])
                rule["backendRefs"].append(
                    {**twin, "name": services[colour], "weight": weights[colour]}
                )
    if not touched:
        raise BackendError(
            f"HTTPRoute {where} has no backendRefs to {services['blue']} or {services['green']}"
        )
    return rules

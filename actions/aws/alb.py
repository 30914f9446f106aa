"""Pure helpers for the ALB listener that splits traffic between the two colours.

The listener's default actions end in a `forward` action whose ForwardConfig lists the
blue and green target groups with weights. We read and write those weights as
percentages (ALB accepts 0-999 per group, and only the ratio matters), and rewrite only
the forward action so that authentication actions, stickiness and the listener's port,
protocol and certificates stay as they are.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from actions.deploy.base import BackendError
from commands.targets import COLOURS, Colour


def _forward_action(actions: list[dict[str, Any]]) -> dict[str, Any]:
    forwards = [a for a in actions if a.get("Type") == "forward"]
    if len(forwards) != 1:
        raise BackendError(
            "the listener's default actions must contain exactly one forward action "
            f"(found {len(forwards)})"
        )
    return forwards[0]


def _raw_weights(action: dict[str, Any]) -> dict[str, int]:
    groups = action.get("ForwardConfig", {}).get("TargetGroups")
    if groups:
        # AWS treats a missing Weight as 1 when several groups are listed.
        return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
    if action.get("TargetGroupArn"):
        return {action["TargetGroupArn"]: 1}
    raise BackendError("the listener's forward action names no target group")


def _our_weights(
    actions: list[dict[str, Any]], target_groups: Mapping[Colour, str]
) -> dict[str, int]:
    raw = _raw_weights(_forward_action(actions))
    if not set(raw) <= set(target_groups.values()):
        # Refuse rather than ignore: another target group also gets traffic, so the
        # percentages we would report (or overwrite) would be wrong.
        raise BackendError("the listener forwards to a target group that is neither blue nor green")
    return raw


def read_weights(
    actions: list[dict[str, Any]], target_groups: Mapping[Colour, str]
) -> dict[Colour, int]:
    """Percent of traffic per colour from a listener's DefaultActions."""
    raw = _our_weights(actions, target_groups)
    per_colour = {colour: raw.get(target_groups[colour], 0) for colour in COLOURS}
    total = sum(per_colour.values())
    if total == 0:
        raise BackendError("the listener sends no traffic to either colour")
    blue = round(100 * per_colour["blue"] / total)
    return {"blue": blue, "green": 100 - blue}


def check_weights(weights: Mapping[Colour, int]) -> None:
    if set(weights) != set(COLOURS):
        raise BackendError("weights must be given for exactly blue and green")
    if any(not 0 <= w <= 100 for w in weights.values()) or sum(weights.values()) != 100:
        raise BackendError(f"weights must be percentages that add up to 100, not {dict(weights)}")


def with_weights(
    actions: list[dict[str, Any]],
    target_groups: Mapping[Colour, str],
    weights: Mapping[Colour, int],
) -> list[dict[str, Any]]:
    """DefaultActions for ModifyListener: `actions` with the forward weights replaced."""
    check_weights(weights)
    _our_weights(actions, target_groups)
    result: list[dict[str, Any]] = []
    for action in copy.deepcopy(actions):
        if action.get("Type") == "forward":
            # TargetGroupArn and a multi-group ForwardConfig cannot be combined.
            action.pop("TargetGroupArn", None)
            forward = action.setdefault("ForwardConfig", {})
            forward["TargetGroups"] = [
                {"TargetGroupArn": target_groups[c], "Weight": weights[c]} for c in COLOURS
            ]
        elif action.get("Type") == "authenticate-oidc":
            # Describe never returns the client secret; without this flag ModifyListener
            # would demand it.
            oidc = action.get("AuthenticateOidcConfig", {})
            if "ClientSecret" not in oidc:
                oidc["UseExistingClientSecret"] = True
        result.append(action)
    return result

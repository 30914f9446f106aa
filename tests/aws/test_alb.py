"""The pure listener helpers: reading and rewriting forward weights."""

from __future__ import annotations

from typing import Any

import pytest

from actions.aws.alb import read_weights, with_weights
from actions.deploy.base import BackendError
from commands.targets import Colour

GROUPS: dict[Colour, str] = {"blue": "arn:tg/blue", "green": "arn:tg/green"}


def forward(blue: int, green: int) -> dict[str, Any]:
    return {
        "Type": "forward",
        "Order": 2,
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": GROUPS["blue"], "Weight": blue},
                {"TargetGroupArn": GROUPS["green"], "Weight": green},
            ],
            "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 60},
        },
    }


OIDC: dict[str, Any] = {
    "Type": "authenticate-oidc",
    "Order": 1,
    "AuthenticateOidcConfig": {"Issuer": "https://idp", "ClientId": "bot"},
}


@pytest.mark.parametrize(
    ("blue", "green", "expected"),
    [
        (100, 0, (100, 0)),
        (90, 10, (90, 10)),
        (0, 100, (0, 100)),
        (1, 1, (50, 50)),
        (1, 2, (33, 67)),
    ],
)
def test_read_weights_as_percentages(blue: int, green: int, expected: tuple[int, int]) -> None:
    weights = read_weights([OIDC, forward(blue, green)], GROUPS)

    assert (weights["blue"], weights["green"]) == expected


def test_single_target_group_forward_is_all_traffic() -> None:
    action = {"Type": "forward", "TargetGroupArn": GROUPS["green"]}

    assert read_weights([action], GROUPS) == {"blue": 0, "green": 100}


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ([], "exactly one forward action"),
        ([{"Type": "fixed-response"}], "exactly one forward action"),
        ([{"Type": "forward"}], "names no target group"),
        ([{"Type": "forward", "TargetGroupArn": "arn:tg/other"}], "neither blue nor green"),
        ([forward(0, 0)], "no traffic to either colour"),
    ],
)
def test_unusable_listeners_are_backend_errors(actions: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(BackendError, match=message):
        read_weights(actions, GROUPS)


def test_with_weights_rewrites_only_the_forward_weights() -> None:
    actions = [OIDC, forward(100, 0)]

    rewritten = with_weights(actions, GROUPS, {"blue": 90, "green": 10})

    assert rewritten == [
        {
            **OIDC,
            "AuthenticateOidcConfig": {
                **OIDC["AuthenticateOidcConfig"],
                "UseExistingClientSecret": True,
            },
        },
        forward(90, 10),
    ]
    assert actions == [OIDC, forward(100, 0)]  # input left alone


def test_with_weights_turns_a_single_group_forward_into_a_weighted_one() -> None:
    rewritten = with_weights(
        [{"Type": "forward", "TargetGroupArn": GROUPS["blue"]}], GROUPS, {"blue": 50, "green": 50}
    )

    assert rewritten == [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": GROUPS["blue"], "Weight": 50},
                    {"TargetGroupArn": GROUPS["green"], "Weight": 50},
                ]
            },
        }
    ]


@pytest.mark.parametrize(
    "weights",
    [{"blue": 50, "green": 40}, {"blue": 101, "green": -1}, {"blue": 100}],
)
def test_with_weights_refuses_bad_percentages(weights: dict[Colour, int]) -> None:
    with pytest.raises(BackendError):
        with_weights([forward(100, 0)], GROUPS, weights)

"""Priority from labels and routing to channels, as the config describes them."""

from __future__ import annotations

import pytest

from alerts.policy import place, priority_of
from bot.config import BUNDLED_EXAMPLE, Config, load_config, parse_config


@pytest.fixture
def config() -> Config:
    return load_config(BUNDLED_EXAMPLE)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"priority": "P1", "severity": "critical"}, "P1"),  # the priority label wins
        ({"priority": "p0"}, "P0"),
        ({"priority": "urgent", "severity": "critical"}, "P0"),  # not P0..P3: falls through
        ({"severity": "critical"}, "P0"),
        ({"severity": "error"}, "P1"),
        ({"severity": "WARNING"}, "P2"),
        ({"severity": "info"}, "P3"),
        ({"severity": "unknown"}, "P2"),  # default
        ({}, "P2"),
    ],
)
def test_priority(labels: dict[str, str], expected: str, config: Config) -> None:
    assert priority_of(labels, config.alerts) == expected


def test_first_matching_route_wins_and_catch_all_takes_the_rest(config: Config) -> None:
    assert place({"team": "payments"}, ["P2"], config.alerts).channel == "C0000PAYMT"
    assert place({"team": "search"}, ["P2"], config.alerts).channel == "C0000ALERT"


def test_escalation_channel_overrides_the_route(config: Config) -> None:
    placed = place({"team": "payments"}, ["P2", "P0"], config.alerts)
    assert placed.priority == "P0"  # the group is as urgent as its most urgent alert
    assert placed.channel == "C0000INCID"
    assert placed.policy.mention == "S0000ONCAL"


def test_regex_routes_are_fully_anchored() -> None:
    config = parse_config(
        """
alerts:
  routes:
    - match_re: {service: "api|web"}
      channel: C0000WEB01
    - channel: C0000ALERT
"""
    )
    assert place({"service": "api"}, [], config.alerts).channel == "C0000WEB01"
    assert place({"service": "api-gateway"}, [], config.alerts).channel == "C0000ALERT"

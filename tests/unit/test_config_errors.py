"""Config problems are all reported at once, each with its key and line."""

from __future__ import annotations

import pytest

from bot.config import BUNDLED_EXAMPLE, ConfigError, load_config, parse_config


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    return raised.value.problems


def test_the_shipped_example_is_valid() -> None:
    config = load_config(BUNDLED_EXAMPLE)
    assert config.deploy.services["api"].environments["production"].approvals == 2


def test_every_problem_is_named_with_key_and_line() -> None:
    found = problems(
        """alerts:
  routes:
    - channel: C0000ALERT
      colour: red
  escalation:
    P5: {page_after: 5m}
    P1: {page_after: -5m}
deploy:
  approvals: 3
"""
    )
    assert found == [
        "line 4: alerts.routes.0.colour: unknown key",
        "line 6: alerts.escalation.P5: Input should be 'P0', 'P1', 'P2' or 'P3'",
        "line 7: alerts.escalation.P1.page_after: duration '-5m' is negative; durations must be 0s or more",
        "line 9: deploy.approvals: unknown key",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alerts:\n  routes: []\n", "alerts.routes"),
        ("alerts:\n  routes:\n    - match: {a: b}\n      channel: C0000ALERT\n", "catch-all"),
        ("alerts:\n  routes:\n    - channel: '#alerts'\n", "alerts.routes.0.channel"),
        (
            "alerts:\n  routes:\n    - channel: C0000ALERT\n  escalation:\n    P0: {renotify_every: 10s}\n",
            "at least 1m",
        ),
        ("alerts: [1, 2\n", "not valid YAML"),
        (
            "alerts:\n  routes:\n    - channel: C0000ALERT\ndeploy:\n  approvers: [alice]\n",
            "not a Slack user",
        ),
    ],
)
def test_specific_mistakes_are_explained(text: str, expected: str) -> None:
    assert any(expected in problem for problem in problems(text))


def test_durations_accept_alertmanager_spelling() -> None:
    config = parse_config(
        "alerts:\n  routes:\n    - channel: C0000ALERT\n  escalation:\n    P1: {page_after: 1h30m}\n"
    )
    assert config.alerts.escalation["P1"].page_after.total_seconds() == 5400  # type: ignore[union-attr]
    # Levels the file does not mention keep their defaults.
    assert config.alerts.escalation["P0"].page_after.total_seconds() == 0  # type: ignore[union-attr]

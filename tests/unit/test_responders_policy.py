"""Who may Acknowledge, Silence, or run an alert's runbook steps: the rule alone, on plain
labels and config, with no database and no Slack (alerts/responders.py)."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.config import AlertsConfig
from alerts.responders import Decision, decide, decision_for, responders_of

PAYMENTS = {"team": "payments", "alertname": "CardDeclines"}
OTHER = {"team": "search", "alertname": "SlowQueries"}


def config(*, route: list[str] | None, everyone_else: list[str] | None) -> AlertsConfig:
    routes: list[dict[str, Any]] = [
        {"match": {"team": "payments"}, "channel": "CPAYMENTS", "responders": route},
        {"channel": "CALERTS"},
    ]
    return AlertsConfig.model_validate({"routes": routes, "responders": everyone_else})


def test_a_teams_route_names_its_own_responders_instead_of_the_global_ones() -> None:
    cfg = config(route=["UPAYONE", "SPAYTEAM"], everyone_else=["UOPS"])
    assert responders_of(PAYMENTS, cfg) == ["UPAYONE", "SPAYTEAM"]
    assert decision_for(PAYMENTS, cfg, "UOPS") == Decision(allowed=False, ask=("SPAYTEAM",))
    # Other teams' alerts fall through to the catch-all route and the global list.
    assert responders_of(OTHER, cfg) == ["UOPS"]
    assert decision_for(OTHER, cfg, "UOPS") == Decision(allowed=True)


def test_a_route_without_responders_uses_alerts_responders() -> None:
    cfg = config(route=None, everyone_else=["UOPS", "SONCALL"])
    assert responders_of(PAYMENTS, cfg) == ["UOPS", "SONCALL"]
    assert decision_for(PAYMENTS, cfg, "UOPS").allowed
    assert decision_for(PAYMENTS, cfg, "UNEW") == Decision(allowed=False, ask=("SONCALL",))


def test_with_no_responders_anywhere_anyone_who_sees_the_alert_may_act() -> None:
    cfg = config(route=None, everyone_else=None)
    assert responders_of(PAYMENTS, cfg) is None
    assert decision_for(PAYMENTS, cfg, "UANYONE") == Decision(allowed=True)


def test_an_empty_list_admits_nobody_and_asks_slack_nothing() -> None:
    cfg = config(route=[], everyone_else=["UOPS"])
    assert decision_for(PAYMENTS, cfg, "UOPS") == Decision(allowed=False)


@pytest.mark.parametrize(
    ("principals", "user", "expected"),
    [
        # A user named outright needs no group lookup, even with groups in the list.
        (["SONE", "UADA"], "UADA", Decision(allowed=True)),
        # Groups to ask come in the config's order, users left out of the question.
        (["SONE", "UBOB", "STWO"], "UADA", Decision(allowed=False, ask=("SONE", "STWO"))),
        (["UBOB"], "UADA", Decision(allowed=False)),
        (None, "UADA", Decision(allowed=True)),
    ],
)
def test_decide(principals: list[str] | None, user: str, expected: Decision) -> None:
    assert decide(principals, user) == expected

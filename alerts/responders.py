"""Who may act on an alert group, decided from its labels and the config alone.

The alert buttons (Acknowledge, Silence 1h, the storm summary's) and the runbook
checklists (Run, Done, Skip, when `runbooks.oncall` is unset) answer the same question:
the group's route's `responders`, else `alerts.responders`; with both unset, anyone who
sees the message, as in Alertmanager's own UI. An empty list admits nobody.

Principals are Slack user ids (U/W...) and user-group ids (S...). Who is in a user group
is Slack's to say, and asking costs a call, so the decision does not ask: it names the
user groups whose membership would admit the user, and the caller (bot/alerts/
responders.py, which also reads the group's labels) asks only when it must.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alerts.config import AlertsConfig
from alerts.policy import match_route


@dataclass(frozen=True)
class Decision:
    """`allowed` settles it, unless `ask` names user groups: then the user may act exactly
    when they are a member of one of them (in the config's order, so a caller can stop at
    the first)."""

    allowed: bool
    ask: tuple[str, ...] = ()


def responders_of(labels: Mapping[str, str], config: AlertsConfig) -> Sequence[str] | None:
    """The principals who may act on a group with `labels`: its route's `responders`, else
    `alerts.responders`; None when anyone may."""
    route = match_route(labels, config)
    return route.responders if route.responders is not None else config.responders


def decide(principals: Sequence[str] | None, user: str) -> Decision:
    """Whether `user` may act given `principals` (None: anyone), short of group lookups."""
    if principals is None or user in principals:
        return Decision(allowed=True)
    return Decision(allowed=False, ask=tuple(p for p in principals if p.startswith("S")))


def decision_for(labels: Mapping[str, str], config: AlertsConfig, user: str) -> Decision:
    """The decision for `user` on a group with `labels` (see `decide`)."""
    return decide(responders_of(labels, config), user)

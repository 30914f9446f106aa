"""`chatops routes test severity=critical service=api`: where an alert would go, and what
would follow, computed by the same policy code the bot runs (like `amtool config routes test`)."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from alerts.escalation import describe, is_digest
from alerts.policy import place, priority_of
from bot.terminal import say

_LABEL = re.compile(r"^([a-zA-Z_][a-zA-Z0-9_]*)=(.*)$")


def parse_labels(items: list[str]) -> dict[str, str]:
    """`name=value` pairs (values may be quoted); raises ValueError naming the bad one."""
    labels: dict[str, str] = {}
    for item in items:
        match = _LABEL.match(item)
        if match is None:
            raise ValueError(
                f"{item!r} is not a label: write name=value, e.g. severity=critical service=api"
            )
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        labels[name] = value
    return labels


def cmd_routes_test(args: argparse.Namespace) -> int:
    from bot.cli_config import load_or_exit, resolve_config_path
    from bot.settings import Settings

    try:
        labels = parse_labels(list(args.labels))
    except ValueError as exc:
        say(f"error: {exc}", file=sys.stderr)
        return 2
    config = load_or_exit(resolve_config_path(Settings(), args.config))
    alerts = config.alerts
    placement = place(labels, [priority_of(labels, alerts)], alerts)
    index = alerts.routes.index(placement.route)
    route = placement.route
    matchers = [f"{k}={v}" for k, v in route.match.items()]
    matchers += [f"{k}=~{v}" for k, v in route.match_re.items()]
    policy = placement.policy
    say(f"priority:  {placement.priority}")
    where = "" if policy.channel is None else f" (from the {placement.priority} escalation policy)"
    say(f"channel:   {placement.channel}{where}")
    say(f"route:     #{index} {' '.join(matchers) if matchers else '(catch-all)'}")
    if policy.mention and not is_digest(policy):
        say(f"mention:   {policy.mention}")
    pager = (
        "route's pagerduty_routing_key" if route.pagerduty_routing_key else "PAGERDUTY_ROUTING_KEY"
    )
    if policy.page_after is not None:
        say(f"pages via: {pager}")
    say("timeline:")
    for line in describe(policy):
        say(f"  {line}")
    say("  (acknowledging or resolving stops every step still to come)")
    return 0


def add_routes_commands(sub: Any) -> None:
    routes = sub.add_parser("routes", help="inspect alert routing")
    routes_sub = routes.add_subparsers(dest="routes_command", required=True)
    test = routes_sub.add_parser(
        "test", help="show priority, channel, route and escalation timeline for labels"
    )
    test.add_argument("labels", nargs="+", help="labels as name=value (severity=critical ...)")
    test.add_argument("--config", help="config file (default: CHATOPS_CONFIG)")
    test.set_defaults(func=cmd_routes_test)

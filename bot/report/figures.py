"""The seed's operational metrics, computed from audit events alone.

Every state change the report needs is already an audit event (alert opened, refired,
acknowledged, resolved; page sent; operation requested, approved, started, finished), so
the figures are a pure function of a list of events: the same list gives the same report,
and a test can script a week of events and check every figure by hand.

Definitions (also printed with the report):
- an *incident* is an alert group opening or re-firing; its priority is the group's;
- time to acknowledge (MTTA) runs from the incident's start (when the bot posted it) to
  the first acknowledgement in Slack or PagerDuty; time to recover (MTTR) to its resolve.
  Incidents still unacknowledged or firing at the end of the period are counted apart,
  not averaged in;
- deployment frequency is succeeded `/deploy` operations per day; deployment duration is
  start to finish of each finished `/deploy`;
- rollback rate is (rollback operations + operations that ended rolled back) divided by
  the release operations (`/deploy` and `/shift`);
- approval wait runs from the request to its quorum.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import mean, median
from typing import Any

PRIORITIES = ("P0", "P1", "P2", "P3")
STARTS = {"alert.opened", "alert.refired"}
ACKS = {"alert.acknowledged", "pagerduty.acknowledged"}
RELEASES = {"deploy", "shift"}
ROLLED_BACK = "Rolled back"


@dataclass(frozen=True)
class Event:
    """The part of an audit event the report reads; `priority` is filled in by the caller
    for alert-group subjects (the group's priority) when the event itself has none."""

    at: datetime
    action: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)
    priority: str | None = None


@dataclass(frozen=True)
class Spread:
    """Count, mean, median and maximum of some durations, in seconds."""

    count: int
    mean: float | None
    median: float | None
    max: float | None

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if not values:
            return cls(0, None, None, None)
        return cls(len(values), mean(values), median(values), max(values))


DECLARED_SEVERITIES = ("P0", "P1", "P2")  # an incident's severities (incidents/commands.py)


@dataclass(frozen=True)
class Figures:
    since: datetime
    until: datetime
    incidents: dict[str, int]
    time_to_ack: dict[str, Spread]
    time_to_recover: dict[str, Spread]
    unacknowledged: dict[str, int]
    unresolved: dict[str, int]
    pages: int
    deploys: int
    deploys_succeeded: int
    shifts: int
    rollbacks: int
    automatic_rollbacks: int
    deployment_duration: Spread
    approvals_requested: int
    approvals_approved: int
    approvals_rejected: int
    approvals_expired: int
    approval_wait: Spread
    daily_incidents: dict[date, dict[str, int]]
    daily_deploys: dict[date, int]
    daily_rollbacks: dict[date, int]
    # Declared incidents (/incident, bot/incidents) by severity: not alert groups.
    declared_incidents: dict[str, int] = field(default_factory=dict)

    @property
    def days(self) -> float:
        return max((self.until - self.since).total_seconds() / 86400, 1 / 24)

    @property
    def deployment_frequency(self) -> float:
        """Succeeded deploys per day."""
        return self.deploys_succeeded / self.days

    @property
    def rollback_rate(self) -> float | None:
        releases = self.deploys + self.shifts
        if releases == 0:
            return None
        return (self.rollbacks + self.automatic_rollbacks) / releases


def compute(events: list[Event], since: datetime, until: datetime) -> Figures:
    """The figures for incidents and operations that started in [since, until).

    `events` may include events from before `since` (they are ignored) and must include
    every event up to `until` so that acknowledgements and resolves are found."""
    ordered = sorted(
        (e for e in events if e.at < until), key=lambda e: (e.at, e.action not in STARTS)
    )
    alerts = _alert_figures(ordered, since)
    operations = _operation_figures(ordered, since)
    approvals = _approval_figures(ordered, since)
    pages = sum(1 for e in ordered if e.action == "escalation.paged" and e.at >= since)
    declared = Counter(
        str(e.details.get("severity", ""))
        for e in ordered
        if e.action == "incident.declared" and e.at >= since
    )
    return Figures(
        since=since,
        until=until,
        pages=pages,
        **alerts,
        **operations,
        **approvals,
        declared_incidents={s: declared[s] for s in DECLARED_SEVERITIES},
    )


def _alert_figures(events: list[Event], since: datetime) -> dict[str, Any]:
    # The incident each alert group is in now: its priority, start, ack and resolve.
    open_incidents: dict[str, dict[str, Any]] = {}
    finished: list[dict[str, Any]] = []
    for event in events:
        if event.action in STARTS:
            before = open_incidents.pop(event.subject, None)
            if before is not None:
                finished.append(before)
            # A re-fire's event names no priority: it keeps the group's.
            inherited = before["priority"] if before is not None else None
            open_incidents[event.subject] = {
                "priority": event.details.get("priority") or event.priority or inherited or "P2",
                "start": event.at,
                "ack": None,
                "resolve": None,
            }
            continue
        incident = open_incidents.get(event.subject)
        if incident is None:
            continue
        if event.action in ACKS and incident["ack"] is None:
            incident["ack"] = event.at
        elif event.action == "alert.resolved" and incident["resolve"] is None:
            incident["resolve"] = event.at
    finished.extend(open_incidents.values())
    counted = [i for i in finished if i["start"] >= since]

    to_ack: dict[str, list[float]] = defaultdict(list)
    to_recover: dict[str, list[float]] = defaultdict(list)
    incidents: Counter[str] = Counter()
    unacked: Counter[str] = Counter()
    unresolved: Counter[str] = Counter()
    daily: dict[date, Counter[str]] = defaultdict(Counter)
    for incident in counted:
        priority = incident["priority"]
        incidents[priority] += 1
        daily[incident["start"].date()][priority] += 1
        if incident["ack"] is None:
            unacked[priority] += 1
        else:
            to_ack[priority].append((incident["ack"] - incident["start"]).total_seconds())
        if incident["resolve"] is None:
            unresolved[priority] += 1
        else:
            to_recover[priority].append((incident["resolve"] - incident["start"]).total_seconds())
    return {
        "incidents": {p: incidents[p] for p in PRIORITIES},
        "time_to_ack": {p: Spread.of(to_ack[p]) for p in PRIORITIES},
        "time_to_recover": {p: Spread.of(to_recover[p]) for p in PRIORITIES},
        "unacknowledged": {p: unacked[p] for p in PRIORITIES},
        "unresolved": {p: unresolved[p] for p in PRIORITIES},
        "daily_incidents": {day: dict(counts) for day, counts in sorted(daily.items())},
    }


def _operation_figures(events: list[Event], since: datetime) -> dict[str, Any]:
    started: dict[str, tuple[str, datetime]] = {}
    kinds: Counter[str] = Counter()
    succeeded_deploys = 0
    automatic = 0
    durations: list[float] = []
    daily_deploys: Counter[date] = Counter()
    daily_rollbacks: Counter[date] = Counter()
    for event in events:
        if event.action == "operation.started":
            command = str(event.details.get("command", ""))
            started[event.subject] = (command, event.at)
            if event.at >= since:
                kinds[command] += 1
                if command == "rollback":
                    daily_rollbacks[event.at.date()] += 1
        elif event.action == "operation.finished" and event.subject in started:
            command, at = started.pop(event.subject)
            if at < since:
                continue
            outcome = event.details.get("outcome")
            if command == "deploy":
                durations.append((event.at - at).total_seconds())
                if outcome == "Succeeded":
                    succeeded_deploys += 1
                    daily_deploys[at.date()] += 1
            if outcome == ROLLED_BACK and command in RELEASES:
                automatic += 1
                daily_rollbacks[event.at.date()] += 1
    return {
        "deploys": kinds["deploy"],
        "deploys_succeeded": succeeded_deploys,
        "shifts": kinds["shift"],
        "rollbacks": kinds["rollback"],
        "automatic_rollbacks": automatic,
        "deployment_duration": Spread.of(durations),
        "daily_deploys": dict(sorted(daily_deploys.items())),
        "daily_rollbacks": dict(sorted(daily_rollbacks.items())),
    }


def _approval_figures(events: list[Event], since: datetime) -> dict[str, Any]:
    requested: dict[str, datetime] = {}
    outcomes: Counter[str] = Counter()
    waits: list[float] = []
    for event in events:
        if event.action == "operation.requested" and event.subject not in requested:
            requested[event.subject] = event.at
            if event.at >= since:
                outcomes["requested"] += 1
            continue
        asked = requested.get(event.subject)
        if asked is None or asked < since:
            continue
        if event.action == "operation.approved":
            outcomes["approved"] += 1
            waits.append((event.at - asked).total_seconds())
        elif event.action == "operation.rejected":
            outcomes["rejected"] += 1
        elif event.action == "operation.expired":
            outcomes["expired"] += 1
    return {
        "approvals_requested": outcomes["requested"],
        "approvals_approved": outcomes["approved"],
        "approvals_rejected": outcomes["rejected"],
        "approvals_expired": outcomes["expired"],
        "approval_wait": Spread.of(waits),
    }


def previous_period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The period of the same length just before [since, until), to compare against."""
    length: timedelta = until - since
    return since - length, since

"""The report's figures as Prometheus counters and histograms, fed by committed audit events.

Every figure starts as an audit event, so one observer on the session sees them all and
no feature has to remember to count itself. Durations need the event that began them
(an incident's start, an operation's start, a request); those are looked up when the new
event is flushed, on the same connection and transaction. Observations wait in the
session until it commits: a rolled-back transaction counts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import and_, event, func, select
from sqlalchemy.orm import Session

from bot.report.figures import ACKS, STARTS
from bot.storage.models import AlertGroup, AuditEvent

PENDING = "chatops_report_observations"
# Minutes to days: MTTA is minutes, MTTR and approval waits can be hours.
TIME_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)
OPERATION_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)

Observation = Callable[[], None]


class OperationalMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.incidents = Counter(
            "chatops_incidents",
            "Alert groups opening or re-firing (not declared incidents: see "
            "chatops_incidents_declared), by priority.",
            ["priority"],
            registry=registry,
        )
        self.time_to_ack = Histogram(
            "chatops_time_to_acknowledge_seconds",
            "From an alert group's post to its first acknowledgement (Slack or PagerDuty).",
            ["priority"],
            buckets=TIME_BUCKETS,
            registry=registry,
        )
        self.time_to_recover = Histogram(
            "chatops_time_to_recover_seconds",
            "From an alert group's post to its resolve.",
            ["priority"],
            buckets=TIME_BUCKETS,
            registry=registry,
        )
        self.pages = Counter(
            "chatops_pages_sent",
            "Escalation pages sent to PagerDuty, by priority.",
            ["priority"],
            registry=registry,
        )
        self.operations = Counter(
            "chatops_operations_finished",
            "Operations finished, by command (deploy, shift, rollback) and outcome word.",
            ["command", "outcome"],
            registry=registry,
        )
        self.operation_duration = Histogram(
            "chatops_operation_duration_seconds",
            "From an operation's start to its end, by command.",
            ["command"],
            buckets=OPERATION_BUCKETS,
            registry=registry,
        )
        self.approval_requests = Counter(
            "chatops_approval_requests",
            "Approval requests for operations, by what became of them.",
            ["outcome"],
            registry=registry,
        )
        self.approval_wait = Histogram(
            "chatops_approval_wait_seconds",
            "From an operation request to its quorum of approvals.",
            buckets=TIME_BUCKETS,
            registry=registry,
        )

        self._declared_figures(registry)

    def _declared_figures(self, registry: CollectorRegistry) -> None:
        """Declared incidents (bot/incidents): their events carry the severity and start."""
        self.declared = Counter(
            "chatops_incidents_declared",
            "Incidents declared (/incident, the button, or auto_declare), by severity.",
            ["severity"],
            registry=registry,
        )
        self.incident_times = {
            phase: Histogram(
                f"chatops_incident_time_to_{phase}_seconds",
                f"From a declared incident's first alert (or its declaration) to its {phase}.",
                ["severity"],
                buckets=TIME_BUCKETS,
                registry=registry,
            )
            for phase in ("declare", "mitigate", "resolve")
        }

    def watch(self, session_class: type[Session]) -> None:
        """Observe the audit events committed by sessions of this (per-service) class."""
        event.listen(session_class, "after_flush", self._after_flush)
        event.listen(session_class, "after_commit", _apply)
        event.listen(session_class, "after_rollback", _discard)

    def _after_flush(self, session: Session, _context: Any) -> None:
        events = [obj for obj in session.new if isinstance(obj, AuditEvent)]
        if not events:
            return
        pending: list[Observation] = session.info.setdefault(PENDING, [])
        for audit_event in events:
            pending.extend(self._observe(session, audit_event))

    def _observe(self, session: Session, ev: AuditEvent) -> list[Observation]:
        details = ev.details or {}
        action = ev.action
        if action in STARTS:
            priority = str(details.get("priority") or _group_priority(session, ev.subject))
            return [_inc(self.incidents, priority)]
        if action.startswith("incident."):
            return self._declared_incident(ev)
        if action == "escalation.paged":
            return [_inc(self.pages, str(details.get("priority", "")))]
        if action in ACKS or action == "alert.resolved":
            return self._incident_time(session, ev)
        if action == "operation.finished":
            started = _previous(session, ev, {"operation.started"})
            command = str(started.details.get("command", "")) if started is not None else ""
            outcome = str(details.get("outcome", ""))
            out: list[Observation] = [_inc(self.operations, command, outcome)]
            if started is not None:
                seconds = _seconds(started.at, ev.at)
                out.append(lambda: self.operation_duration.labels(command).observe(seconds))
            return out
        if action == "operation.requested":
            return [_inc(self.approval_requests, "requested")]
        if action in ("operation.rejected", "operation.expired"):
            return [_inc(self.approval_requests, action.removeprefix("operation."))]
        if action == "operation.approved":
            asked = _previous(session, ev, {"operation.requested"})
            out = [_inc(self.approval_requests, "approved")]
            if asked is not None:
                waited = _seconds(asked.at, ev.at)
                out.append(lambda: self.approval_wait.observe(waited))
            return out
        return []

    def _incident_time(self, session: Session, ev: AuditEvent) -> list[Observation]:
        start = _previous(session, ev, STARTS)
        if start is None:
            return []
        kinds = ACKS if ev.action in ACKS else {"alert.resolved"}
        earlier = session.connection().scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                and_(
                    AuditEvent.subject == ev.subject,
                    AuditEvent.action.in_(kinds),
                    AuditEvent.id > start.id,
                    AuditEvent.id < ev.id,
                )
            )
        )
        if earlier:
            return []  # only the first acknowledgement (or resolve) of an incident counts
        priority = str(start.details.get("priority") or _group_priority(session, ev.subject))
        seconds = _seconds(start.at, ev.at)
        histogram = self.time_to_ack if ev.action in ACKS else self.time_to_recover
        return [lambda: histogram.labels(priority).observe(seconds)]

    def _declared_incident(self, ev: AuditEvent) -> list[Observation]:
        details = ev.details or {}
        severity = str(details.get("severity", ""))
        try:
            started = datetime.fromisoformat(str(details.get("started")))
        except ValueError:
            return []
        seconds = _seconds(started, ev.at)
        phases = []
        if ev.action == "incident.declared":
            phases.append("declare")
        if details.get("first_mitigation"):
            phases.append("mitigate")
        if ev.action == "incident.resolve":
            phases.append("resolve")
        out: list[Observation] = [
            _observe(self.incident_times[p], severity, seconds) for p in phases
        ]
        if ev.action == "incident.declared":
            out.append(_inc(self.declared, severity))
        return out


def _observe(histogram: Histogram, label: str, seconds: float) -> Observation:
    return lambda: histogram.labels(label).observe(seconds)


class _Found:
    def __init__(self, id: int, at: datetime, details: dict[str, Any] | None) -> None:
        self.id, self.at, self.details = id, at, details or {}


def _previous(session: Session, ev: AuditEvent, actions: set[str]) -> _Found | None:
    row = (
        session.connection()
        .execute(
            select(AuditEvent.id, AuditEvent.at, AuditEvent.details)
            .where(
                AuditEvent.subject == ev.subject,
                AuditEvent.action.in_(actions),
                AuditEvent.id < ev.id,
            )
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
        .first()
    )
    return None if row is None else _Found(row.id, row.at, row.details)


def _group_priority(session: Session, subject: str) -> str:
    group_id = subject.removeprefix("alert-group:")
    if not group_id.isdigit():
        return ""
    value = session.connection().scalar(
        select(AlertGroup.priority).where(AlertGroup.id == int(group_id))
    )
    return str(value or "")


def _inc(counter: Counter, *labels: str) -> Observation:
    # Labels are chosen when the observation is applied: a rolled-back event leaves no series.
    return lambda: counter.labels(*labels).inc()


def _seconds(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0)


def _apply(session: Session) -> None:
    for observe in session.info.pop(PENDING, []):
        observe()


def _discard(session: Session) -> None:
    session.info.pop(PENDING, None)

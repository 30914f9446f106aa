"""The report's figures from a scripted week of audit events, checked against hand sums."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.report.figures import Event, compute, previous_period

MON = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WEEK_END = MON + timedelta(days=7)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MON + timedelta(days=day, hours=hour - 9, minutes=minute)


def ev(when: datetime, action: str, subject: str, **details: object) -> Event:
    return Event(at=when, action=action, subject=subject, details=dict(details))


def scripted_week() -> list[Event]:
    g1, g2, g3 = "alert-group:1", "alert-group:2", "alert-group:3"
    return [
        # Before the week: an incident that must not count, though its resolve falls inside.
        ev(MON - timedelta(hours=2), "alert.opened", "alert-group:9", priority="P0"),
        ev(MON + timedelta(minutes=5), "alert.resolved", "alert-group:9"),
        # Monday: P0, acknowledged after 4 min in Slack, resolved after 30 min; paged once.
        ev(at(0, 10), "alert.opened", g1, priority="P0"),
        ev(at(0, 10), "escalation.paged", g1, priority="P0"),
        ev(at(0, 10, 4), "alert.acknowledged", g1),
        ev(at(0, 10, 30), "alert.resolved", g1),
        # Wednesday: the same group re-fires (a second P0 incident), acked in PagerDuty
        # after 10 min, a later Slack ack does not count, resolved after 60 min.
        ev(at(2, 14), "alert.refired", g1),
        ev(at(2, 14, 10), "pagerduty.acknowledged", g1),
        ev(at(2, 14, 12), "alert.acknowledged", g1),
        ev(at(2, 15), "alert.resolved", g1),
        # Thursday: a P2 nobody acknowledged, resolved after 2 h.
        ev(at(3, 11), "alert.opened", g2, priority="P2"),
        ev(at(3, 13), "alert.resolved", g2),
        # Sunday: a P1 still firing and unacknowledged when the week ends.
        ev(at(6, 20), "alert.opened", g3, priority="P1"),
        # Tuesday: /deploy requested, approved after 3 min, runs 90 s, succeeds.
        ev(at(1, 10), "operation.requested", "operation:r1", command="/deploy api v1"),
        ev(at(1, 10, 1), "operation.approval", "operation:r1"),
        ev(at(1, 10, 3), "operation.approved", "operation:r1"),
        ev(at(1, 10, 3), "operation.started", "operation:r1", command="deploy"),
        ev(
            at(1, 10, 4) + timedelta(seconds=30),
            "operation.finished",
            "operation:r1",
            outcome="Succeeded",
        ),
        # Tuesday: /shift 10, approved after 7 min, rolled back by the bake.
        ev(at(1, 11), "operation.requested", "operation:r2", command="/shift 10"),
        ev(at(1, 11, 7), "operation.approved", "operation:r2"),
        ev(at(1, 11, 7), "operation.started", "operation:r2", command="shift"),
        ev(at(1, 11, 20), "operation.finished", "operation:r2", outcome="Rolled back"),
        # Friday: a /deploy that fails its health check (150 s), and a rejected request.
        ev(at(4, 9), "operation.requested", "operation:r3", command="/deploy api v2"),
        ev(at(4, 9, 2), "operation.approved", "operation:r3"),
        ev(at(4, 9, 2), "operation.started", "operation:r3", command="deploy"),
        ev(
            at(4, 9, 4) + timedelta(seconds=30),
            "operation.finished",
            "operation:r3",
            outcome="Failed",
        ),
        ev(at(4, 10), "operation.requested", "operation:r4", command="/deploy api v3"),
        ev(at(4, 10, 1), "operation.rejected", "operation:r4"),
        # Saturday: /rollback, approved after 1 min; an expired request.
        ev(at(5, 8), "operation.requested", "operation:r5", command="/rollback api"),
        ev(at(5, 8, 1), "operation.approved", "operation:r5"),
        ev(at(5, 8, 1), "operation.started", "operation:r5", command="rollback"),
        ev(at(5, 8, 2), "operation.finished", "operation:r5", outcome="Succeeded"),
        ev(at(5, 9), "operation.requested", "operation:r6", command="/deploy api v4"),
        ev(at(5, 9, 15), "operation.expired", "operation:r6"),
    ]


def test_a_scripted_week_gives_the_figures_computed_by_hand() -> None:
    figures = compute(scripted_week(), MON, WEEK_END)

    assert figures.incidents == {"P0": 2, "P1": 1, "P2": 1, "P3": 0}
    # MTTA P0: (4 min + 10 min) / 2 = 7 min; MTTR P0: (30 + 60) / 2 = 45 min.
    assert figures.time_to_ack["P0"].count == 2
    assert figures.time_to_ack["P0"].mean == 7 * 60
    assert figures.time_to_ack["P0"].max == 10 * 60
    assert figures.time_to_recover["P0"].mean == 45 * 60
    assert figures.time_to_recover["P2"].mean == 2 * 3600
    assert figures.time_to_ack["P2"].count == 0
    assert figures.unacknowledged == {"P0": 0, "P1": 1, "P2": 1, "P3": 0}
    assert figures.unresolved == {"P0": 0, "P1": 1, "P2": 0, "P3": 0}
    assert figures.pages == 1

    assert (figures.deploys, figures.deploys_succeeded, figures.shifts) == (2, 1, 1)
    assert (figures.rollbacks, figures.automatic_rollbacks) == (1, 1)
    # Two rollbacks (one asked for, one automatic) over three releases (2 deploys, 1 shift).
    assert figures.rollback_rate == 2 / 3
    assert figures.deployment_frequency == 1 / 7
    # Deploy durations 90 s and 150 s.
    assert figures.deployment_duration.mean == 120
    assert figures.deployment_duration.max == 150

    assert figures.approvals_requested == 6
    assert (figures.approvals_approved, figures.approvals_rejected) == (4, 1)
    assert figures.approvals_expired == 1
    # Waits 3, 7, 2 and 1 minutes.
    assert figures.approval_wait.mean == 13 * 60 / 4
    assert figures.approval_wait.median == 2.5 * 60

    assert figures.daily_incidents[date(2026, 11, 23)] == {"P0": 1}
    assert figures.daily_incidents[date(2026, 11, 25)] == {"P0": 1}
    assert figures.daily_deploys == {date(2026, 11, 24): 1}
    assert figures.daily_rollbacks == {date(2026, 11, 24): 1, date(2026, 11, 28): 1}


def test_an_empty_period_has_no_rates_rather_than_zero_divisions() -> None:
    figures = compute([], MON, WEEK_END)
    assert figures.rollback_rate is None
    assert figures.time_to_ack["P0"].mean is None
    assert figures.deployment_frequency == 0


def test_events_after_the_period_are_ignored_and_the_previous_period_lines_up() -> None:
    late = [
        *scripted_week(),
        ev(WEEK_END + timedelta(hours=1), "alert.opened", "alert-group:7", priority="P0"),
    ]
    assert compute(late, MON, WEEK_END).incidents["P0"] == 2
    assert previous_period(MON, WEEK_END) == (MON - timedelta(days=7), MON)


def test_declared_incidents_are_counted_apart_from_alert_groups() -> None:
    from bot.report.render import to_blocks, to_markdown

    events = [
        ev(at(23, 10), "alert.opened", "alert-group:1", priority="P0"),
        ev(at(23, 10, 5), "incident.declared", "incident:1", severity="P0"),
        ev(at(24, 9), "incident.declared", "incident:2", severity="P2"),
        ev(at(15, 9), "incident.declared", "incident:3", severity="P1"),  # the week before
    ]
    figures = compute(events, at(23, 0), at(30, 0))
    assert figures.declared_incidents == {"P0": 1, "P1": 0, "P2": 1}
    assert figures.incidents["P0"] == 1  # the alert group, a figure of its own
    text = to_markdown(figures)
    assert "| declared incidents | P0 1 · P1 0 · P2 1" in text
    assert "| P0 alert groups | 1" in text and "P0 incidents" not in text
    assert "Declared incidents" in str(to_blocks(figures, figures, title="Week"))

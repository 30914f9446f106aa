"""The report as Markdown (for people) and JSON (for scripts), this period beside the last."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from alerts.durations import format_duration
from bot.report.figures import PRIORITIES, Figures, Spread

DEFINITIONS = (
    "Alert groups are counted when they open or fire again; declared incidents (/incident) "
    "are counted apart. MTTA and MTTR run from when the bot posted the alert group to its "
    "first acknowledgement (Slack or PagerDuty) and to its resolve; alert groups still open "
    "at the end of the period are counted apart. Rollback "
    "rate is (rollbacks + automatic rollbacks) / (deploys + shifts)."
)


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return format_duration(timedelta(seconds=round(value)))


def _change(now: float | None, before: float | None, *, lower_is_better: bool) -> str:
    if now is None or before is None or now == before:
        return ""
    arrow = "↑" if now > before else "↓"
    better = (now < before) == lower_is_better
    return f" {arrow}{'' if better else ' (worse)'}"


@dataclass(frozen=True)
class _Row:
    """One figure of the Markdown table: how it is shown, and the number compared with
    the previous period's for an arrow (None: shown side by side, no arrow)."""

    label: str
    shown: Callable[[Figures], str]
    value: Callable[[Figures], float | None] | None = None
    lower_is_better: bool = True


def _deploys(figures: Figures) -> str:
    return f"{figures.deploys} ({figures.deploys_succeeded})"


def _rollbacks(figures: Figures) -> str:
    return f"{figures.rollbacks} ({figures.automatic_rollbacks})"


def _unacknowledged(figures: Figures) -> str:
    return str(sum(figures.unacknowledged.values()))


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _approvals(figures: Figures) -> str:
    return (
        f"{figures.approvals_requested} ({figures.approvals_approved}/"
        f"{figures.approvals_rejected}/{figures.approvals_expired})"
    )


# The figures after the per-priority ones, in the order the table shows them.
_TOTALS = (
    _Row("still unacknowledged", _unacknowledged),
    _Row(
        "declared incidents",
        lambda f: " · ".join(f"{s} {n}" for s, n in f.declared_incidents.items()) or "0",
        lambda f: sum(f.declared_incidents.values()),
    ),
    _Row("pages sent", lambda f: str(f.pages), lambda f: f.pages),
    _Row("deploys (succeeded)", _deploys, lambda f: f.deploys_succeeded, lower_is_better=False),
    _Row(
        "deployment frequency",
        lambda f: f"{f.deployment_frequency:.2f}/day",
        lambda f: f.deployment_frequency,
        lower_is_better=False,
    ),
    _Row(
        "deployment duration (mean)",
        lambda f: _seconds(f.deployment_duration.mean),
        lambda f: f.deployment_duration.mean,
    ),
    _Row("shifts", lambda f: str(f.shifts)),
    _Row("rollbacks (automatic)", _rollbacks),
    _Row("rollback rate", lambda f: _percent(f.rollback_rate), lambda f: f.rollback_rate),
    _Row("approval requests (approved/rejected/expired)", _approvals),
    _Row(
        "approval wait (mean)",
        lambda f: _seconds(f.approval_wait.mean),
        lambda f: f.approval_wait.mean,
    ),
)


def to_markdown(current: Figures, previous: Figures | None = None) -> str:
    prev = previous or current
    lines = [
        f"# Operations report {current.since:%Y-%m-%d %H:%M} – {current.until:%Y-%m-%d %H:%M} UTC",
        "",
        "| figure | this period | previous period |",
        "| --- | --- | --- |",
    ]
    rows = [*_incident_rows(), *_spread_rows(current, prev), *_TOTALS]
    lines += [_markdown_row(row, current, previous) for row in rows]
    lines += ["", DEFINITIONS]
    return "\n".join(lines) + "\n"


def _incident_rows() -> list[_Row]:
    def row(priority: str) -> _Row:
        def count(figures: Figures) -> int:
            return figures.incidents[priority]

        return _Row(f"{priority} alert groups", lambda f: str(count(f)), count)

    return [row(p) for p in PRIORITIES]


def _spread_rows(current: Figures, previous: Figures) -> list[_Row]:
    """MTTA and MTTR per priority, for the priorities with incidents in either period."""

    def row(label: str, attr: str, priority: str) -> _Row:
        def spread(figures: Figures) -> Spread:
            found: Spread = getattr(figures, attr)[priority]
            return found

        return _Row(
            f"{label} {priority}",
            lambda f: f"{_seconds(spread(f).mean)} (n={spread(f).count})",
            lambda f: spread(f).mean,
        )

    return [
        row(label, attr, priority)
        for label, attr in (("MTTA", "time_to_ack"), ("MTTR", "time_to_recover"))
        for priority in PRIORITIES
        if getattr(current, attr)[priority].count or getattr(previous, attr)[priority].count
    ]


def _markdown_row(row: _Row, current: Figures, previous: Figures | None) -> str:
    if previous is None:
        return f"| {row.label} | {row.shown(current)} |  |"
    change = ""
    if row.value is not None:
        change = _change(
            row.value(current), row.value(previous), lower_is_better=row.lower_is_better
        )
    return f"| {row.label} | {row.shown(current)}{change} | {row.shown(previous)} |"


def to_plain(figures: Figures) -> dict[str, Any]:
    """JSON-compatible data: dates as ISO strings, derived rates included."""

    def convert(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, dict):
            return {
                (k.isoformat() if isinstance(k, date) else k): convert(v) for k, v in value.items()
            }
        return value

    data = convert(asdict(figures))
    data["deployment_frequency_per_day"] = figures.deployment_frequency
    data["rollback_rate"] = figures.rollback_rate
    return data  # type: ignore[no-any-return]


def to_json_data(current: Figures, previous: Figures | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"current": to_plain(current), "definitions": DEFINITIONS}
    if previous is not None:
        data["previous"] = to_plain(previous)
    return data


def _by_priority(spreads: dict[str, Spread]) -> str:
    """The mean of P0 and P1 (the ones people are paged for), side by side."""
    return " · ".join(f"{p} {_seconds(spreads[p].mean)}" for p in PRIORITIES[:2])


_Field = tuple[str, Callable[[Figures], str]]
_ALERT_FIELDS: tuple[_Field, ...] = (
    ("Alert groups", lambda f: " · ".join(f"{p} {f.incidents[p]}" for p in PRIORITIES)),
    ("Pages sent", lambda f: str(f.pages)),
    (
        "Declared incidents",
        lambda f: " · ".join(f"{s} {n}" for s, n in f.declared_incidents.items()) or "0",
    ),
    ("MTTA", lambda f: _by_priority(f.time_to_ack)),
    ("MTTR", lambda f: _by_priority(f.time_to_recover)),
    ("Still unacknowledged", _unacknowledged),
)
_RELEASE_FIELDS: tuple[_Field, ...] = (
    ("Deploys (succeeded)", _deploys),
    ("Deployment duration", lambda f: _seconds(f.deployment_duration.mean)),
    ("Rollbacks (automatic)", _rollbacks),
    ("Rollback rate", lambda f: _percent(f.rollback_rate)),
    ("Approval requests (approved/rejected/expired)", _approvals),
    ("Approval wait", lambda f: _seconds(f.approval_wait.mean)),
)


def to_blocks(current: Figures, previous: Figures, *, title: str) -> list[dict[str, Any]]:
    """The weekly report as Block Kit: a header and a few sections of figure fields.

    Only numbers the bot computed appear here (nothing from alert payloads), so no
    escaping is needed; Slack allows 10 fields a section, each under 2,000 characters."""

    def fields(shown: tuple[_Field, ...]) -> dict[str, Any]:
        lines = [
            f"*{label}*\n{value(current)}  _(previous: {value(previous)})_"
            for label, value in shown
        ]
        return {"type": "section", "fields": [{"type": "mrkdwn", "text": t} for t in lines]}

    return [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        fields(_ALERT_FIELDS),
        {"type": "divider"},
        fields(_RELEASE_FIELDS),
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": DEFINITIONS + " `chatops report` has more."}],
        },
    ]

"""The report as Markdown (for people) and JSON (for scripts), this period beside the last."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

from alerts.durations import format_duration
from bot.report.figures import PRIORITIES, Figures, Spread

DEFINITIONS = (
    "Incidents are alert groups opening or re-firing. MTTA and MTTR run from when the bot "
    "posted the incident to its first acknowledgement (Slack or PagerDuty) and to its "
    "resolve; incidents still open at the end of the period are counted apart. Rollback "
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


def to_markdown(current: Figures, previous: Figures | None = None) -> str:
    def row(label: str, now: Any, before: Any, shown: str, was: str, lower: bool) -> str:
        change = _change(now, before, lower_is_better=lower) if previous else ""
        return f"| {label} | {shown}{change} | {was if previous else ''} |"

    prev = previous or current
    lines = [
        f"# Operations report {current.since:%Y-%m-%d %H:%M} – {current.until:%Y-%m-%d %H:%M} UTC",
        "",
        "| figure | this period | previous period |",
        "| --- | --- | --- |",
    ]
    for priority in PRIORITIES:
        now_n, before_n = current.incidents[priority], prev.incidents[priority]
        lines.append(row(f"{priority} incidents", now_n, before_n, str(now_n), str(before_n), True))
    for label, attr in (("MTTA", "time_to_ack"), ("MTTR", "time_to_recover")):
        for priority in PRIORITIES:
            now_s: Spread = getattr(current, attr)[priority]
            before_s: Spread = getattr(prev, attr)[priority]
            if now_s.count == 0 and before_s.count == 0:
                continue
            lines.append(
                row(
                    f"{label} {priority}",
                    now_s.mean,
                    before_s.mean,
                    f"{_seconds(now_s.mean)} (n={now_s.count})",
                    f"{_seconds(before_s.mean)} (n={before_s.count})",
                    True,
                )
            )
    open_now = sum(current.unacknowledged.values())
    lines.append(
        row(
            "still unacknowledged",
            open_now,
            None,
            str(open_now),
            str(sum(prev.unacknowledged.values())),
            True,
        )
    )
    lines += [
        row("pages sent", current.pages, prev.pages, str(current.pages), str(prev.pages), True),
        row(
            "deploys (succeeded)",
            current.deploys_succeeded,
            prev.deploys_succeeded,
            f"{current.deploys} ({current.deploys_succeeded})",
            f"{prev.deploys} ({prev.deploys_succeeded})",
            False,
        ),
        row(
            "deployment frequency",
            current.deployment_frequency,
            prev.deployment_frequency,
            f"{current.deployment_frequency:.2f}/day",
            f"{prev.deployment_frequency:.2f}/day",
            False,
        ),
        row(
            "deployment duration (mean)",
            current.deployment_duration.mean,
            prev.deployment_duration.mean,
            _seconds(current.deployment_duration.mean),
            _seconds(prev.deployment_duration.mean),
            True,
        ),
        row("shifts", None, None, str(current.shifts), str(prev.shifts), True),
        row(
            "rollbacks (automatic)",
            None,
            None,
            f"{current.rollbacks} ({current.automatic_rollbacks})",
            f"{prev.rollbacks} ({prev.automatic_rollbacks})",
            True,
        ),
        row(
            "rollback rate",
            current.rollback_rate,
            prev.rollback_rate,
            _percent(current.rollback_rate),
            _percent(prev.rollback_rate),
            True,
        ),
        row(
            "approval requests (approved/rejected/expired)",
            None,
            None,
            _approvals(current),
            _approvals(prev),
            True,
        ),
        row(
            "approval wait (mean)",
            current.approval_wait.mean,
            prev.approval_wait.mean,
            _seconds(current.approval_wait.mean),
            _seconds(prev.approval_wait.mean),
            True,
        ),
        "",
        DEFINITIONS,
    ]
    return "\n".join(lines) + "\n"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _approvals(figures: Figures) -> str:
    return (
        f"{figures.approvals_requested} ({figures.approvals_approved}/"
        f"{figures.approvals_rejected}/{figures.approvals_expired})"
    )


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

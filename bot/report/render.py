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


def _line(label: str, now: str, before: str) -> str:
    return f"*{label}*\n{now}  _(previous: {before})_"


def to_blocks(current: Figures, previous: Figures, *, title: str) -> list[dict[str, Any]]:
    """The weekly report as Block Kit: a header and a few sections of figure fields.

    Only numbers the bot computed appear here (nothing from alert payloads), so no
    escaping is needed; Slack allows 10 fields a section, each under 2,000 characters."""
    incidents = " · ".join(f"{p} {current.incidents[p]}" for p in PRIORITIES)
    incidents_before = " · ".join(f"{p} {previous.incidents[p]}" for p in PRIORITIES)
    mtta = " · ".join(f"{p} {_seconds(current.time_to_ack[p].mean)}" for p in PRIORITIES[:2])
    mtta_before = " · ".join(
        f"{p} {_seconds(previous.time_to_ack[p].mean)}" for p in PRIORITIES[:2]
    )
    mttr = " · ".join(f"{p} {_seconds(current.time_to_recover[p].mean)}" for p in PRIORITIES[:2])
    mttr_before = " · ".join(
        f"{p} {_seconds(previous.time_to_recover[p].mean)}" for p in PRIORITIES[:2]
    )
    alerts_fields = [
        _line("Incidents", incidents, incidents_before),
        _line("Pages sent", str(current.pages), str(previous.pages)),
        _line("MTTA", mtta, mtta_before),
        _line("MTTR", mttr, mttr_before),
        _line(
            "Still unacknowledged",
            str(sum(current.unacknowledged.values())),
            str(sum(previous.unacknowledged.values())),
        ),
    ]
    release_fields = [
        _line(
            "Deploys (succeeded)",
            f"{current.deploys} ({current.deploys_succeeded})",
            f"{previous.deploys} ({previous.deploys_succeeded})",
        ),
        _line(
            "Deployment duration",
            _seconds(current.deployment_duration.mean),
            _seconds(previous.deployment_duration.mean),
        ),
        _line(
            "Rollbacks (automatic)",
            f"{current.rollbacks} ({current.automatic_rollbacks})",
            f"{previous.rollbacks} ({previous.automatic_rollbacks})",
        ),
        _line("Rollback rate", _percent(current.rollback_rate), _percent(previous.rollback_rate)),
        _line(
            "Approval requests (approved/rejected/expired)",
            _approvals(current),
            _approvals(previous),
        ),
        _line(
            "Approval wait",
            _seconds(current.approval_wait.mean),
            _seconds(previous.approval_wait.mean),
        ),
    ]
    return [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in alerts_fields]},
        {"type": "divider"},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in release_fields]},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": DEFINITIONS + " `chatops report` has more."}],
        },
    ]

"""An escalation policy as a timeline of steps (pure: no database, no clock).

The engine plans the first steps of a group from `first_steps`, and a renotify step
plans its successor with `next_renotify`; `describe` is what `chatops routes test`
prints, so what people read is computed by the same code that schedules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from alerts.config import EscalationPolicy
from alerts.durations import format_duration

StepKind = Literal["page", "renotify", "remind", "digest"]

PAGER_SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}


@dataclass(frozen=True)
class PlannedStep:
    kind: StepKind
    after: timedelta  # from the moment the group was opened (or fired again)


def is_digest(policy: EscalationPolicy | None) -> bool:
    """Groups of this priority are gathered into a digest instead of posted one by one."""
    return policy is not None and policy.digest_every is not None


def first_steps(policy: EscalationPolicy) -> list[PlannedStep]:
    """The steps to schedule when a group opens; the digest is planned per channel."""
    steps: list[PlannedStep] = []
    if policy.page_after is not None:
        steps.append(PlannedStep("page", policy.page_after))
    if policy.renotify_every is not None:
        steps.append(PlannedStep("renotify", policy.renotify_every))
    if policy.remind_after is not None:
        steps.append(PlannedStep("remind", policy.remind_after))
    return steps


def next_after(due: datetime, every: timedelta, now: datetime) -> datetime:
    """The next repeat after `due` that is still in the future.

    Keeps the 5, 10, 15 minute rhythm exact, and after a long outage repeats once instead
    of firing every missed repeat at the same moment.
    """
    upcoming = due + every
    while upcoming <= now:
        upcoming += every
    return upcoming


def describe(policy: EscalationPolicy, *, repeats: int = 3) -> list[str]:
    """Human timeline lines: "0s   page PagerDuty", "5m   re-notify in the thread" ..."""
    if is_digest(policy):
        assert policy.digest_every is not None
        every = format_duration(policy.digest_every)
        return [f"not posted alone: gathered into the channel digest, updated every {every}"]
    events: list[tuple[timedelta, str]] = []
    if policy.page_after is not None:
        events.append((policy.page_after, "page PagerDuty (unless acknowledged)"))
    if policy.renotify_every is not None:
        for n in range(1, repeats + 1):
            events.append((policy.renotify_every * n, "re-notify in the thread"))
    if policy.remind_after is not None:
        events.append((policy.remind_after, "one reminder in the thread"))
    events.sort(key=lambda item: item[0])
    lines = [f"{format_duration(at):>6}  {what}" for at, what in events]
    if policy.renotify_every is not None:
        lines.append(
            f"{'...':>6}  every {format_duration(policy.renotify_every)} until acknowledged"
        )
    if not lines:
        lines.append("nothing after the message: no page, no reminder")
    return lines


# `acked_by` of a group acknowledged in PagerDuty rather than by a Slack user.
PAGERDUTY_ACTOR = "pagerduty"

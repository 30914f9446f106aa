"""Who is on call for an alert: the last known answer the handoff poller keeps, never a
PagerDuty call from the alert path (an alert must not wait on PagerDuty, nor fail with it).

An alert group's on-call is the schedule its `service` label (else its `team` label)
names in `oncall.schedules`. P0 and P1 messages show them ("On call: @ada") and their
re-notifications mention them; `oncall_for` is the same answer for other features.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.slack_text import escape
from bot.alerts.groups import OnCallSource
from bot.config import Config
from bot.oncall.handoffs import handoff_key
from bot.oncall.models import OnCallSnapshot
from bot.storage.models import AlertGroup
from oncall.levels import Level, Person, first_level

URGENT = ("P0", "P1")
LABELS = ("service", "team")  # the labels that name a schedule, in this order


def schedule_for(labels: Mapping[str, str], config: Config) -> str | None:
    for label in LABELS:
        value = labels.get(label)
        if value and value in config.oncall.schedules:
            return config.oncall.schedules[value]
    return None


async def oncall_for(
    session: AsyncSession,
    config: Config,
    *,
    service: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[Person]:
    """The people on call at the first level for a service (a key of `oncall.schedules`)
    or an alert's labels, as last read from PagerDuty; [] when none is known."""
    schedule_id = schedule_for({"service": service} if service else labels or {}, config)
    if schedule_id is None:
        return []
    row = await session.get(OnCallSnapshot, handoff_key(schedule_id))
    if row is None:
        return []
    level = first_level([Level.from_json(d) for d in row.levels])
    return list(level.now) if level else []


def note_source(config: Config) -> OnCallSource:
    """The alert messages' on-call line, for the sessions' info (bot/alerts/groups.py)."""
    by_email = {email.strip().lower(): user for user, email in config.pagerduty.users.items()}

    def mention(person: Person) -> str:
        user = person.slack or by_email.get(person.email.strip().lower())
        return f"<@{user}>" if user else escape(person.name)

    async def note(session: AsyncSession, group: AlertGroup) -> str | None:
        if group.priority not in URGENT or not config.oncall.schedules:
            return None
        labels = {**group.group_labels, **group.common_labels}
        people = await oncall_for(session, config, labels=labels)
        return ", ".join(mention(p) for p in people) or None

    return note

"""Who is on call now and next, per escalation level, from PagerDuty's on-call blocks.

PagerDuty lists one block per user, level and schedule; for a moment `now` the people on
call at a level are those whose block covers it, the handoff is the earliest end among
them, and the next people are those whose block covers the handoff moment. Levels are
plain data, stored as the last known answer (JSON) and compared for handoffs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall.pagerduty import OnCall

MAX_LEVELS = 10  # PagerDuty allows 20 rules; more than 10 levels does not fit an answer
MAX_PEOPLE = 10  # per level and moment


@dataclass(frozen=True)
class Person:
    name: str
    email: str = ""
    pd_id: str = ""
    slack: str = ""  # their Slack user id, once looked up (kept for the alert path)

    def to_json(self) -> dict[str, str]:
        data = {"name": self.name, "email": self.email, "id": self.pd_id}
        return {**data, "slack": self.slack} if self.slack else data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Person:
        return cls(
            str(data.get("name", "")),
            str(data.get("email", "")),
            str(data.get("id", "")),
            str(data.get("slack", "")),
        )


@dataclass(frozen=True)
class Level:
    policy: str
    level: int
    now: tuple[Person, ...]
    until: datetime | None  # the handoff; None: on call with no end
    next: tuple[Person, ...]
    schedule: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "level": self.level,
            "now": [p.to_json() for p in self.now],
            "until": self.until.isoformat() if self.until else None,
            "next": [p.to_json() for p in self.next],
            "schedule": self.schedule,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Level:
        until = data.get("until")
        return cls(
            policy=str(data.get("policy", "")),
            level=int(data.get("level", 1)),
            now=tuple(Person.from_json(p) for p in data.get("now") or []),
            until=datetime.fromisoformat(until) if isinstance(until, str) else None,
            next=tuple(Person.from_json(p) for p in data.get("next") or []),
            schedule=str(data.get("schedule", "")),
        )


def _person(block: OnCall) -> Person:
    user = block.user
    if user is None:
        return Person("someone")
    return Person(user.label[:200], (user.email or "")[:254], (user.id or "")[:64])


def _unique(people: Iterable[Person]) -> tuple[Person, ...]:
    seen: dict[str, Person] = {}
    for person in people:
        seen.setdefault(person.pd_id or person.name, person)
    return tuple(list(seen.values())[:MAX_PEOPLE])


def levels_at(blocks: Sequence[OnCall], now: datetime) -> list[Level]:
    """One Level per (escalation policy, level), in policy then level order."""
    grouped: dict[tuple[str, int], list[OnCall]] = {}
    names: dict[str, str] = {}
    for block in blocks:
        policy = block.escalation_policy
        key = (policy.id if policy and policy.id else "", block.escalation_level)
        grouped.setdefault(key, []).append(block)
        names[key[0]] = (policy.summary if policy and policy.summary else key[0])[:200]
    found: list[Level] = []
    for (policy_id, level), group in sorted(grouped.items())[:MAX_LEVELS]:
        current = [b for b in group if b.covers(now)]
        ends = [b.end for b in current if b.end is not None]
        until = min(ends) if ends and len(ends) == len(current) else None
        upcoming: list[OnCall] = []
        if until is not None:
            upcoming = [b for b in group if b.covers(until)]
        elif not current:
            starts = [b.start for b in group if b.start is not None and b.start > now]
            if starts:
                until = min(starts)
                upcoming = [b for b in group if b.covers(until)]
        schedules = {b.schedule.summary or b.schedule.id or "" for b in current if b.schedule}
        found.append(
            Level(
                policy=names.get(policy_id, policy_id),
                level=level,
                now=_unique(_person(b) for b in current),
                until=until,
                next=_unique(_person(b) for b in upcoming),
                schedule=", ".join(sorted(schedules))[:200],
            )
        )
    return found


def first_level(levels: Sequence[Level]) -> Level | None:
    """The lowest escalation level: who is paged first."""
    return min(levels, key=lambda lv: lv.level) if levels else None

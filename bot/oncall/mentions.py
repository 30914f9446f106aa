"""PagerDuty people as Slack mentions: `pagerduty.users` first, then their address in Slack.

`pagerduty.users` maps Slack users to PagerDuty logins, so read backwards it names the
Slack user of a PagerDuty address without asking Slack. Anyone else is looked up by
address (bot/slack/people.py, cached); a person Slack does not know is shown by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.slack_text import escape
from bot.slack.people import SlackPeople
from oncall.levels import Level, Person
from oncall.render import Mention

MAX_LOOKUPS = 20  # Slack lookups per answer; PagerDuty data decides how many people appear


class Mentions:
    def __init__(self, pagerduty_users: Mapping[str, str], people: SlackPeople | None) -> None:
        self._by_email = {email.strip().lower(): user for user, email in pagerduty_users.items()}
        self._people = people

    async def slack_user(self, person: Person) -> str | None:
        email = person.email.strip().lower()
        if not email:
            return None
        if email in self._by_email:
            return self._by_email[email]
        return await self._people.by_email(email) if self._people is not None else None

    async def for_levels(self, levels: Iterable[Level]) -> Mention:
        """A mention function for everyone in `levels`, with their lookups done."""
        return await self.for_people(p for level in levels for p in (*level.now, *level.next))

    async def for_people(self, persons: Iterable[Person]) -> Mention:
        found: dict[str, str | None] = {}
        for person in persons:
            key = person.email.strip().lower()
            if key and key not in found and len(found) < MAX_LOOKUPS:
                found[key] = await self.slack_user(person)

        def mention(person: Person) -> str:
            user = found.get(person.email.strip().lower())
            return f"<@{user}>" if user else escape(person.name)

        return mention

    async def zone_of(self, user: str) -> tzinfo:
        """The asker's Slack time zone; UTC when Slack does not say or names no known zone."""
        name = await self._people.time_zone(user) if self._people is not None and user else None
        try:
            return ZoneInfo(name) if name else ZoneInfo("UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

"""`/oncall [service|schedule]`: who is on call now and next, answered to the asker only.

The listener acknowledges at once (Slack's 3 seconds), then reads PagerDuty and answers
ephemerally through the outbox. Times are in the asker's Slack time zone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.pagerduty.oncalls import OnCallsClient
from bot.clock import Clock
from bot.config import Config
from bot.oncall.handoffs import Handoffs
from bot.oncall.mentions import Mentions
from bot.oncall.page_button import OnCallPager, PageButton
from bot.oncall.reader import OnCallReader, Target
from bot.settings import Settings
from bot.slack.answers import Ack, SlackAnswers
from bot.slack.people import SlackPeople
from oncall import render
from oncall.levels import Level

log = logging.getLogger(__name__)

COMMAND = "/oncall"
MAX_TARGETS = 5  # schedules answered for a bare /oncall; more would not fit one answer


class OnCall:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        settings: Settings,
        clock: Clock,
        *,
        people: SlackPeople,
        answers: SlackAnswers,
        pager: OnCallPager,
        members: Callable[[str], Awaitable[frozenset[str]]],
        on_outbox: Callable[[], None],
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._answers = answers
        self.client: OnCallsClient | None = None
        self.reader = OnCallReader(sessions, config, clock, lambda: self.client)
        self.mentions = Mentions(config.pagerduty.users, people)
        # Run by the timer holder (escalation's timer jobs), like the heartbeats.
        self.handoffs = Handoffs(
            sessions,
            config,
            clock,
            lambda: self.client,
            mentions=self.mentions,
            people=people,
            on_outbox=on_outbox,
        )
        self.page_button = PageButton(
            sessions,
            config.alerts,
            clock,
            self.reader,
            pager=pager,
            members=members,
            answers=answers,
        )

    def start(self, http: aiohttp.ClientSession) -> None:
        token = self._settings.pagerduty_api_token
        if token is not None and token.get_secret_value():
            self.client = OnCallsClient(
                http, self._settings.pagerduty_api_url, token=token.get_secret_value()
            )

    def use_settings(self, settings: Settings) -> None:
        """A rotated REST token (SIGHUP) applies to the next read."""
        self._settings = settings
        token = settings.pagerduty_api_token
        if self.client is not None and token is not None and token.get_secret_value():
            self.client.use_token(token.get_secret_value())

    async def on_command(self, ack: Ack, command: dict[str, Any]) -> None:
        await ack()
        try:
            await self.answer(command)
        except Exception:
            log.exception("/oncall failed")
            await self._answers.ephemeral(command, "Could not work out who is on call.")

    async def answer(self, command: dict[str, Any]) -> None:
        name = str(command.get("text", "")).strip()[:80]
        if name:
            target = self.reader.target(name)
            if target is None:
                await self._answers.ephemeral(command, render.unknown(name, self.reader.known()))
                return
            targets = [target]
        else:
            targets = self.reader.schedules()[:MAX_TARGETS]
            if not targets:
                await self._answers.ephemeral(command, render.unknown("", self.reader.known()))
                return
        user = str(command.get("user_id", ""))
        zone = await self.mentions.zone_of(user)
        for target in targets:
            payload = await self._payload(target, zone, user)
            await self._answers.ephemeral(command, payload["text"], blocks=payload["blocks"])

    async def _payload(self, target: Target, zone: Any, user: str) -> dict[str, Any]:
        reading = await self.reader.read(target)
        now = self._clock.now()
        levels: list[Level] = reading.levels or []
        mention = await self.mentions.for_levels(levels)
        if reading.error is not None:
            return render.unavailable(
                target.title, reading.levels, reading.fetched_at, reading.error, mention, zone, now
            )
        offer = await self.page_button.offer(target, user)
        return render.answer(target.title, levels, mention, zone, now, page_value=offer)

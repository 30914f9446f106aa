"""Fixtures for escalation and PagerDuty flow tests: the PagerDuty stand-in and a bot
service pointed at it, plus helpers to fire alerts and move virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import AlertGroup
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService
from tests.servers.pagerduty import PagerDutyServer

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 characters, like a real one
API_TOKEN = "test-api-token"
WEBHOOK_SECRET = "test-pagerduty-webhook-secret"


@pytest.fixture
async def pd_server() -> AsyncIterator[PagerDutyServer]:
    async with PagerDutyServer(api_token=API_TOKEN) as server:
        yield server


class Bot:
    """A running service wired to the PagerDuty stand-in, driven in virtual time."""

    def __init__(self, running: RunningService, pd: PagerDutyServer, emulator: SlackEmulator):
        self.running = running
        self.pd = pd
        self.emulator = emulator
        self.started = running.clock.now()

    @property
    def service(self) -> Any:
        return self.running.service

    @property
    def url(self) -> str:
        return self.running.url

    def now(self) -> datetime:
        return self.running.clock.now()

    async def fire(self, payload: dict[str, Any]) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.url}/webhooks/alertmanager",
                json=payload,
                headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
            ) as response,
        ):
            assert response.status == 200, await response.text()
        await self.tick()

    async def at(self, offset: timedelta) -> None:
        """Move to `offset` after the start and run whatever is due."""
        target = self.started + offset
        assert target >= self.now(), "virtual time only moves forward"
        self.running.clock.advance(target - self.now())
        await self.tick()

    async def tick(self) -> None:
        await self.running.settle()
        await self.service.escalation.tick()
        await self.running.settle()

    def events(self, action: str) -> list[dict[str, Any]]:
        return [
            call.json
            for call in self.pd.calls_to("/v2/enqueue")
            if call.json and call.json.get("event_action") == action
        ]

    def replies(self, channel: str, containing: str) -> list[str]:
        [message] = self.emulator.messages(channel)
        return [r.text for r in self.emulator.replies(channel, message.ts) if containing in r.text]

    async def ack_in_slack(self, channel: str, group_id: int = 1, user: str = "U0000ONC01") -> None:
        [message] = self.emulator.messages(channel)
        response = await self.emulator.send_block_action(
            user=user,
            action_id="alert.ack",
            value=str(group_id),
            channel=channel,
            message_ts=message.ts,
        )
        assert response.status == 200
        # Bolt acks first and runs the listener after the answer: wait for its commit.
        for _ in range(200):
            async with self.service.sessions() as session:
                if (await session.get(AlertGroup, group_id, populate_existing=True)).acked_by:
                    break
            await asyncio.sleep(0.01)
        await self.running.settle()

    async def metrics(self) -> str:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/metrics") as response:
            return await response.text()


def pagerduty_settings(pd: PagerDutyServer) -> dict[str, Any]:
    return {
        "pagerduty_routing_key": SecretStr(ROUTING_KEY),
        "pagerduty_events_url": pd.url,
        "pagerduty_api_url": pd.url,
        "pagerduty_api_token": SecretStr(API_TOKEN),
        "pagerduty_webhook_secret": SecretStr(WEBHOOK_SECRET),
    }


@pytest.fixture
def start_bot(start_service: StartService, pd_server: PagerDutyServer, emulator: SlackEmulator):  # type: ignore[no-untyped-def]
    async def start(database_url: str, **kwargs: Any) -> Bot:
        settings = {**pagerduty_settings(pd_server), **kwargs.pop("settings", {})}
        running = await start_service(database_url, **kwargs, **settings)
        return Bot(running, pd_server, emulator)

    return start

"""Helpers for driving the operations flow through signed Slack requests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.approvals.models import ApprovalRequestRow
from bot.operations.models import DryRunTarget
from bot.sandbox.emulator import BotResponse, Message, SlackEmulator
from commands.targets import Target
from tests.conftest import WEBHOOK_TOKEN, RunningService

CHANNEL = "C0000DEPLY"
DEPLOYER = "U0000DEP01"
APPROVERS = ("U0000APR01", "U0000APR02")
API_PROD = Target("api", "production")


@dataclass
class Flow:
    bot: RunningService
    emulator: SlackEmulator

    async def settle(self) -> None:
        for _ in range(3):
            await self.bot.service.operations.settle()
            await self.bot.settle()

    async def command(
        self, command: str, text: str, *, user: str = DEPLOYER, channel: str = CHANNEL
    ) -> BotResponse:
        response = await self.emulator.send_command(command, text, user=user, channel=channel)
        assert response.status == 200
        await self.settle()
        return response

    async def react(
        self, ts: str, user: str, reaction: str = "white_check_mark", **kwargs: Any
    ) -> BotResponse:
        response = await self.emulator.send_reaction(
            user=user, reaction=reaction, channel=CHANNEL, ts=ts, **kwargs
        )
        assert response.status == 200
        await self.settle()
        return response

    async def sweep(self) -> None:
        await self.bot.service.operations.sweep()
        await self.settle()

    def requests(self) -> list[Message]:
        return [
            m for m in self.emulator.messages(CHANNEL) if m.thread_ts in (None, m.ts) and m.blocks
        ]

    def latest(self) -> Message:
        return self.requests()[-1]

    def header(self, ts: str) -> str:
        message = self.emulator.message(CHANNEL, ts)
        assert message is not None
        return str(message.blocks[0]["text"]["text"])

    def text(self, ts: str) -> str:
        message = self.emulator.message(CHANNEL, ts)
        assert message is not None
        return json.dumps(message.blocks)

    def thread(self, ts: str) -> list[str]:
        return [m.text for m in self.emulator.replies(CHANNEL, ts) if m.ts != ts]

    def ephemerals_for(self, user: str) -> list[str]:
        return [m.text for m in self.emulator.ephemerals if m.ephemeral_user == user]

    async def request_and_approve(self, command: str, text: str) -> str:
        await self.command(command, text)
        ts = self.latest().ts
        for approver in APPROVERS:
            await self.react(ts, approver)
        return ts

    async def dryrun_state(self, target: Target = API_PROD) -> dict[str, Any]:
        async with self.bot.service.sessions() as session:
            row = await session.get(DryRunTarget, (target.service, target.environment))
            return dict(row.state) if row is not None else {}

    async def statuses(self) -> list[str]:
        async with self.bot.service.sessions() as session:
            rows = await session.scalars(
                select(ApprovalRequestRow.status).order_by(ApprovalRequestRow.created_at)
            )
            return list(rows)

    async def alert(self, priority: str = "P0", service: str = "api") -> None:
        from tests.support.payloads import notification

        body = notification(
            '{}:{alertname="ApiDown"}',
            labels={"alertname": "ApiDown", "priority": priority, "service": service},
        )
        import aiohttp

        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.bot.url}/webhooks/alertmanager",
                json=body,
                headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
            ) as response,
        ):
            assert response.status == 200
        await self.settle()

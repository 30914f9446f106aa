"""Slack listeners of the runbook buttons: ack at once, call the use case, and tell the
clicker alone when a click was refused (the checklist and thread show everything else)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import messages as m
from alerts.runbooks import messages as rm
from alerts.runbooks.render import ACTION_IDS
from bot.runbooks.steps import RunbookSteps
from bot.slack.answers import Ack, SlackAnswers
from bot.slack.clicks import clicked_at, clicked_on, parse_group_id

STEP_ACTIONS = re.compile("|".join(re.escape(a) for a in ACTION_IDS.values()))


class RunbookListeners:
    def __init__(
        self,
        steps: RunbookSteps,
        sessions: async_sessionmaker[AsyncSession],
        answers: SlackAnswers,
    ) -> None:
        self._steps = steps
        self._sessions = sessions
        self._answers = answers

    async def on_open(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        action = _action(body)
        group_id = parse_group_id(str(action.get("value", "")))
        if group_id is None:
            await self._answers.ephemeral(body, rm.BUTTON_INVALID)
            return
        if not await clicked_on(self._sessions, body, f"alert-group:{group_id}"):
            await self._answers.ephemeral(body, m.NOT_FROM_ITS_MESSAGE)
            return
        answer = await self._steps.open(group_id=group_id, user=_user(body))
        await _answer(self._answers, body, answer.ephemeral)

    async def on_step(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        action = _action(body)
        channel, message_ts = clicked_at(body)
        answer = await self._steps.click(
            action_id=str(action.get("action_id", "")),
            value=str(action.get("value", "")),
            user=_user(body),
            channel=channel,
            message_ts=message_ts,
        )
        await _answer(self._answers, body, answer.ephemeral)


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    first = actions[0]
    return first if isinstance(first, dict) else {}


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


async def _answer(answers: SlackAnswers, body: dict[str, Any], ephemeral: str) -> None:
    if ephemeral:
        await answers.ephemeral(body, ephemeral)
    answers.wake_outbox()

"""Slack listeners of the runbook buttons: ack at once, call the use case, and tell the
clicker alone when a click was refused (the checklist and thread show everything else)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from alerts import messages as m
from alerts.runbooks import messages as rm
from alerts.runbooks.render import ACTION_IDS
from bot.alerts.buttons import parse_group_id
from bot.slack.clicks import clicked_at, clicked_on

if TYPE_CHECKING:
    from bot.service import Service

STEP_ACTIONS = re.compile("|".join(re.escape(a) for a in ACTION_IDS.values()))


def register(app: AsyncApp, service: Service) -> None:
    async def on_open(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        action = _action(body)
        group_id = parse_group_id(str(action.get("value", "")))
        if group_id is None:
            await service.ephemeral_from_body(body, rm.BUTTON_INVALID)
            return
        if not await clicked_on(service.sessions, body, f"alert-group:{group_id}"):
            await service.ephemeral_from_body(body, m.NOT_FROM_ITS_MESSAGE)
            return
        answer = await service.runbooks.steps.open(group_id=group_id, user=_user(body))
        await _answer(service, body, answer.ephemeral)

    async def on_step(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        action = _action(body)
        channel, message_ts = clicked_at(body)
        answer = await service.runbooks.steps.click(
            action_id=str(action.get("action_id", "")),
            value=str(action.get("value", "")),
            user=_user(body),
            channel=channel,
            message_ts=message_ts,
        )
        await _answer(service, body, answer.ephemeral)

    app.action("runbook.open")(on_open)
    app.action(STEP_ACTIONS)(on_step)


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    first = actions[0]
    return first if isinstance(first, dict) else {}


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id", ""))


async def _answer(service: Service, body: dict[str, Any], ephemeral: str) -> None:
    if ephemeral:
        await service.ephemeral_from_body(body, ephemeral)
    service.wake_outbox()

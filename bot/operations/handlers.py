"""Slack listeners for /deploy, /shift, /rollback, the frozen request's `--force` button
and approval reactions (of operations and of runbook steps that change things: one flow,
bot/operations/requests.py).

They stay thin: answer what can be answered at once in the acknowledgement (usage, help,
the rate limit, or that the request was received and where it goes), hand everything else
to the operations feature, and acknowledge.
"""

from __future__ import annotations

from typing import Any

from bot.operations.feature import Operations
from bot.slack.answers import Ack
from bot.slack.clicks import clicked_at

COMMANDS = ("/deploy", "/shift", "/rollback")


class OperationListeners:
    def __init__(self, operations: Operations) -> None:
        self._operations = operations

    async def on_command(self, ack: Ack, command: dict[str, Any]) -> None:
        answer = await self._operations.command(
            str(command.get("command", "")),
            str(command.get("text", "")),
            str(command.get("user_id", "")),
            str(command.get("channel_id", "")),
        )
        # Within Slack's 3 s: received and where the request goes, or why not.
        await ack(text=answer, response_type="ephemeral")

    async def on_reaction(self, ack: Ack, body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        item = event.get("item") or {}
        if item.get("type") == "message":
            # Queued before the ack, so the work is tracked by the time Slack has its answer.
            self._operations.reaction(
                event_id=str(body.get("event_id", ""))[:64],
                user=str(event.get("user", "")),
                reaction=str(event.get("reaction", "")),
                channel=str(item.get("channel", "")),
                ts=str(item.get("ts", "")),
                added=event.get("type") == "reaction_added",
            )
        await ack()

    async def on_force(self, ack: Ack, body: dict[str, Any]) -> None:
        actions = body.get("actions") or [{}]
        channel, ts = clicked_at(body)
        # Queued before the ack, like reactions: the work is tracked once Slack has its answer.
        self._operations.force_again(
            request_id=str(actions[0].get("value", ""))[:32],
            user=str((body.get("user") or {}).get("id", "")),
            channel=channel,
            ts=ts,
        )
        await ack()

"""Slack listeners for /deploy, /shift, /rollback, the frozen request's `--force` button
and approval reactions (of operations and of runbook steps that change things: one flow,
bot/operations/requests.py).

They stay thin: answer what can be answered at once in the acknowledgement (usage, help,
the rate limit), hand everything else to the operations feature, and acknowledge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack.clicks import clicked_at
from commands.render import FORCE_ACTION

if TYPE_CHECKING:
    from bot.service import Service

COMMANDS = ("/deploy", "/shift", "/rollback")


def register(app: AsyncApp, service: Service) -> None:
    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> None:
        answer = service.operations.command(
            str(command.get("command", "")),
            str(command.get("text", "")),
            str(command.get("user_id", "")),
            str(command.get("channel_id", "")),
        )
        if answer is None:
            await ack()
        else:
            await ack(text=answer, response_type="ephemeral")

    async def on_reaction(ack: AsyncAck, body: dict[str, Any]) -> None:
        event = body.get("event") or {}
        item = event.get("item") or {}
        if item.get("type") == "message":
            # Queued before the ack, so the work is tracked by the time Slack has its answer.
            service.operations.reaction(
                event_id=str(body.get("event_id", ""))[:64],
                user=str(event.get("user", "")),
                reaction=str(event.get("reaction", "")),
                channel=str(item.get("channel", "")),
                ts=str(item.get("ts", "")),
                added=event.get("type") == "reaction_added",
            )
        await ack()

    async def on_force(ack: AsyncAck, body: dict[str, Any]) -> None:
        actions = body.get("actions") or [{}]
        channel, ts = clicked_at(body)
        # Queued before the ack, like reactions: the work is tracked once Slack has its answer.
        service.operations.force_again(
            request_id=str(actions[0].get("value", ""))[:32],
            user=str((body.get("user") or {}).get("id", "")),
            channel=channel,
            ts=ts,
        )
        await ack()

    for name in COMMANDS:
        app.command(name)(on_command)
    app.event("reaction_added")(on_reaction)
    app.event("reaction_removed")(on_reaction)
    app.action(FORCE_ACTION)(on_force)

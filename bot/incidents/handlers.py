"""Slack listeners of the incident feature: `/incident` and the Declare incident button.

Both acknowledge at once and answer the person through the shared answer helpers
(bot/slack/answers.py), so a refusal is seen by them alone and changes nothing.
"""

from __future__ import annotations

from typing import Any

from alerts import messages as alert_messages
from bot.alerts.responders import may_respond
from bot.incidents.feature import Incidents
from bot.slack.answers import Ack, SlackAnswers
from bot.slack.clicks import clicked_on, parse_group_id
from bot.storage.models import AlertGroup
from incidents.commands import Change, Declare, Problem, parse

COMMAND = "/incident"
DECLARE_ACTION = "incident.declare"


class IncidentListeners:
    def __init__(self, incidents: Incidents, answers: SlackAnswers) -> None:
        self._incidents = incidents
        self._answers = answers

    async def on_command(self, ack: Ack, command: dict[str, Any]) -> None:
        await ack()
        user = str(command.get("user_id", ""))
        channel = str(command.get("channel_id", ""))
        request = parse(str(command.get("text", "")))
        if isinstance(request, Problem):
            answer = request.text
        elif isinstance(request, Declare):
            answer = await self._incidents.declare(request, user)
        else:
            assert isinstance(request, Change)
            answer = await self._incidents.change(request, user, channel)
        await self._answers.ephemeral(command, answer)

    async def on_declare(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        group_id = parse_group_id(str(actions[0].get("value", "")))
        user = str((body.get("user") or {}).get("id", ""))
        if group_id is None:
            await self._answers.ephemeral(body, "That button is not valid any more.")
            return
        incidents = self._incidents
        subject = f"alert-group:{group_id}"
        if not await clicked_on(incidents.sessions, body, subject):
            await self._refuse(
                body,
                subject,
                "button not from the group's message",
                alert_messages.NOT_FROM_ITS_MESSAGE,
            )
            return
        if not await may_respond(
            incidents.sessions,
            incidents.alerts,
            group_id=group_id,
            user=user,
            members=incidents.members,
        ):
            await self._refuse(body, subject, "not a responder", alert_messages.NOT_A_RESPONDER)
            return
        async with incidents.sessions() as session:
            group = await session.get(AlertGroup, group_id)
            if group is None:
                await self._answers.ephemeral(body, "That alert is not known any more.")
                return
            title, severity = incidents.title_of(group), incidents.severity_of(group)
        answer = await incidents.declare(Declare(title, severity), user, group_id=group_id)
        await self._answers.ephemeral(body, answer)

    async def _refuse(self, body: dict[str, Any], subject: str, reason: str, text: str) -> None:
        await self._answers.refuse(
            body, text, action="incident.declare.refused", subject=subject, reason=reason
        )

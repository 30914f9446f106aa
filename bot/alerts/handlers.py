"""Slack listeners of an alert group's own buttons: Acknowledge, Silence, Page someone.

A click counts only from the group's own message (or, for "Next 100", a page in its
thread) and only for the group's responders; anything else is refused, audited and told
to the clicker alone. The storm summary's controls (bot/alerts/storm_actions.py) run
each group through the same `acknowledge` and `silence` as these buttons.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.alertmanager import AlertmanagerClient
from alerts import messages as m
from alerts.config import AlertsConfig
from bot.alerts import buttons as alert_buttons
from bot.alerts import pages as alert_pages
from bot.alerts.events import GroupListener
from bot.alerts.responders import may_respond
from bot.clock import Clock
from bot.slack.answers import Ack, SlackAnswers
from bot.slack.clicks import clicked_in_thread_of, clicked_on, parse_group_id
from commands.approval import is_member

OneGroup = Callable[[int, str], Awaitable[alert_buttons.Outcome]]


class Directory(Protocol):
    """Who is in a Slack user group (the operations' cached directory)."""

    async def members(self, group: str) -> frozenset[str]: ...
    async def groups_of(self, user: str, groups: Iterable[str]) -> set[str]: ...


class AlertButtons:
    """The single-group use cases as a click reaches them, with who may click them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        alerts: AlertsConfig,
        *,
        approvers: Sequence[str],
        directory: Directory,
        listeners: Sequence[GroupListener],
        alertmanager: Callable[[], AlertmanagerClient | None],
        answers: SlackAnswers,
    ) -> None:
        """`approvers` may confirm a silence broader than its group; `alertmanager` is
        read at each click (the client exists once the service has started)."""
        self.sessions = sessions
        self.clock = clock
        self.alerts = alerts
        self.answers = answers
        self._approvers = tuple(approvers)
        self._directory = directory
        self._listeners = listeners
        self.alertmanager = alertmanager

    async def is_responder(self, group_id: int, user: str) -> bool:
        return await may_respond(
            self.sessions,
            self.alerts,
            group_id=group_id,
            user=user,
            members=self._directory.members,
        )

    async def is_approver(self, user: str) -> bool:
        wanted = {p for p in self._approvers if p.startswith("S")}
        groups = await self._directory.groups_of(user, wanted)
        return is_member(self._approvers, user, groups)

    async def acknowledge(self, group_id: int, user: str) -> alert_buttons.Outcome:
        return await alert_buttons.acknowledge(
            self.sessions,
            self.alerts,
            self.clock,
            group_id=group_id,
            user=user,
            listeners=self._listeners,
        )

    async def silence(self, group_id: int, user: str) -> alert_buttons.Outcome:
        return await alert_buttons.silence(
            self.sessions,
            self.alertmanager(),
            self.clock,
            group_id=group_id,
            user=user,
            may_confirm=self.is_approver,
        )

    async def refused(
        self, body: dict[str, Any], group_id: int, user: str, what: str, *, in_thread: bool = False
    ) -> bool:
        """Refuses (audited, told to the clicker) a click not from the group's message or
        not by one of its responders."""
        key = f"alert-group:{group_id}"
        from_its_message = await clicked_on(self.sessions, body, key) or (
            # "Next 100" sits on a page the bot posted in the group's thread.
            in_thread and await clicked_in_thread_of(self.sessions, body, key)
        )
        if not from_its_message:
            # The value names a group the clicked message was not posted for.
            reason, answer = "button not from the group's message", m.NOT_FROM_ITS_MESSAGE
        elif await self.is_responder(group_id, user):
            return False
        else:
            reason, answer = "not a responder", m.NOT_A_RESPONDER
        await self.answers.refuse(
            body,
            answer,
            action=f"alert.{what}.refused",
            subject=f"alert-group:{group_id}",
            reason=reason,
        )
        return True

    async def on_ack(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        await self._click(body, "acknowledge", self.acknowledge)

    async def on_silence(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        await self._click(body, "silence", self.silence)

    async def _click(self, body: dict[str, Any], what: str, use_case: OneGroup) -> None:
        group_id, user = _button(body)
        if group_id is None:
            await self.answers.ephemeral(body, "That button is not valid any more.")
            return
        if await self.refused(body, group_id, user, what):
            return
        outcome = await use_case(group_id, user)
        # Successes show in the channel; a refusal is told only to the person who clicked.
        if not outcome.ok and outcome.message:
            await self.answers.ephemeral(body, outcome.message)
        self.answers.wake_outbox()

    async def on_page(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        request = alert_pages.parse_page_value(str(actions[0].get("value", "")))
        user = str((body.get("user") or {}).get("id", ""))
        if request is None:
            await self.answers.ephemeral(body, "That button is not valid any more.")
            return
        if await self.refused(body, request.group_id, user, "page", in_thread=True):
            return
        problem = await alert_pages.post_page(self.sessions, self.clock, request)
        if problem:
            await self.answers.ephemeral(body, problem)
        self.answers.wake_outbox()


def _button(body: dict[str, Any]) -> tuple[int | None, str]:
    actions = body.get("actions") or [{}]
    value = str(actions[0].get("value", ""))
    user = str((body.get("user") or {}).get("id", ""))
    return parse_group_id(value), user

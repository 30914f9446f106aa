"""What the storm summary's controls do: Acknowledge all, Silence all 1h, Open a group.

The summary is where the on-call engineer meets a storm, so it must be a place to act,
not only to read. "All" means the groups the summary lists that still fire and have no
message of their own. Each group goes through its single-group use case
(bot/alerts/buttons.py), so it is authorised, changed and audited exactly as its own
buttons would do it: one audit event per group, and a silence broader than its group
still needs an approver. Silence all makes one silence for groups that share labels
naming them, else one per group (bot/alerts/storm_silence.py). Groups the clicker may not
respond to are left alone; when that is all of them the click is refused (audited, told
only to the clicker) and nothing changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from alerts import messages as m
from alerts.config import AlertsConfig
from bot.alerts import buttons as alert_buttons
from bot.alerts import storm_silence
from bot.alerts.groups import has_message, message_key, refresh_message
from bot.alerts.handlers import AlertButtons
from bot.alerts.storm import FOLDED_CALL, summary_changed, summary_key
from bot.audit import trail
from bot.clock import Clock
from bot.slack.answers import Ack
from bot.slack.clicks import clicked_on, parse_group_id
from bot.storage.models import Alert, AlertGroup, AlertStorm, OutboxEntry, SlackMessage

AllGroups = Callable[[int, list[int], str], Awaitable[list[alert_buttons.Outcome]]]


async def listed_groups(sessions: async_sessionmaker[AsyncSession], storm_id: int) -> list[int]:
    """Ids of the summary's groups still firing without a message of their own. A group
    whose firing alerts Alertmanager no longer reports (silenced or inhibited there) is
    not one: there is nothing left to acknowledge or silence."""
    reported = exists().where(Alert.group_id == AlertGroup.id, Alert.status == "firing")
    async with sessions() as session:
        groups = (
            await session.scalars(
                select(AlertGroup.id)
                .where(AlertGroup.storm_id == storm_id, AlertGroup.status == "firing", reported)
                .order_by(AlertGroup.id)
            )
        ).all()
        own = set(
            (
                await session.scalars(
                    select(OutboxEntry.message_key).where(
                        OutboxEntry.message_key.in_([f"alert-group:{g}" for g in groups]),
                        OutboxEntry.op == "post",
                        OutboxEntry.state != FOLDED_CALL,
                    )
                )
            ).all()
        )
    return [g for g in groups if f"alert-group:{g}" not in own]


async def open_group(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    config: AlertsConfig,
    *,
    storm_id: int,
    group_id: int,
    user: str,
) -> str | None:
    """Post the group's full message (buttons, runbook, escalation thread) in the
    summary's thread; returns why not, or None when queued."""
    now = clock.now()
    async with sessions.begin() as session:
        group = await session.get(AlertGroup, group_id, with_for_update=True)
        if group is None or group.storm_id != storm_id:
            return m.STORM_NOT_IN_STORM
        if await has_message(session, message_key(group)):
            return m.STORM_ALREADY_OPEN
        summary = (
            await session.scalars(
                select(SlackMessage).where(SlackMessage.key == summary_key(storm_id))
            )
        ).first()
        storm = await session.get(AlertStorm, storm_id)
        if summary is None or storm is None:
            return m.STORM_NOT_IN_STORM
        await refresh_message(session, group, config, now, thread_ts=summary.ts)
        await summary_changed(session, storm, now)
        trail.record(
            session,
            at=now,
            actor=user,
            action="alert.opened_from_storm",
            subject=f"alert-group:{group.id}",
            storm=storm_id,
            via="slack",
        )
    return None


class StormControls:
    """The summary's controls; each group goes through the single-group use case of
    `buttons`, as the group's own buttons call it."""

    def __init__(self, buttons: AlertButtons) -> None:
        self._buttons = buttons
        self._answers = buttons.answers
        # One Silence all click at a time in this process (storm_silence locks across replicas).
        self._clicks = asyncio.Lock()

    async def _refuse(
        self, body: dict[str, Any], storm_id: int, what: str, text: str, reason: str
    ) -> None:
        await self._answers.refuse(
            body,
            text,
            action=f"alert.storm.{what}.refused",
            subject=f"storm:{storm_id}",
            reason=reason,
        )

    async def _not_from_summary(self, body: dict[str, Any], storm_id: int, what: str) -> bool:
        """Refuses (audited) a control whose message is not the storm's summary."""
        if await clicked_on(self._buttons.sessions, body, summary_key(storm_id)):
            return False
        await self._refuse(
            body, storm_id, what, m.STORM_NOT_FROM_SUMMARY, "control not from its summary"
        )
        return True

    async def _yours(
        self, body: dict[str, Any], storm_id: int, user: str, what: str
    ) -> tuple[int, list[int]]:
        """How many groups are listed, and those `user` may act on ([] after telling them
        why not)."""
        if await self._not_from_summary(body, storm_id, what):
            return 0, []
        listed = await listed_groups(self._buttons.sessions, storm_id)
        if not listed:
            await self._answers.ephemeral(body, m.STORM_NOTHING_TO_DO)
            return 0, []
        mine = [g for g in listed if await self._buttons.is_responder(g, user)]
        if not mine:
            await self._refuse(body, storm_id, what, m.NOT_A_RESPONDER, "not a responder")
        return len(listed), mine

    async def _act_on_all(self, body: dict[str, Any], what: str, each: AllGroups) -> None:
        storm_id, user = _control(body)
        if storm_id is None:
            await self._answers.ephemeral(body, "That button is not valid any more.")
            return
        listed, mine = await self._yours(body, storm_id, user, what)
        failures = [o.message for o in await each(storm_id, mine, user) if not o.ok]
        if failures:
            text = m.STORM_SOME_FAILED.format(
                done=len(mine) - len(failures), failed=len(failures), error=failures[0]
            )
            await self._answers.ephemeral(body, text)
        elif mine and len(mine) < listed:
            text = m.STORM_SOME_NOT_YOURS.format(done=len(mine), left=listed - len(mine))
            await self._answers.ephemeral(body, text)
        self._answers.wake_outbox()

    async def _acknowledge_each(
        self, _storm_id: int, groups: list[int], user: str
    ) -> list[alert_buttons.Outcome]:
        for group_id in groups:
            await self._buttons.acknowledge(group_id, user)
        # One acknowledged meanwhile is as good.
        return [alert_buttons.Outcome(True) for _ in groups]

    async def _silence_together(
        self, storm_id: int, groups: list[int], user: str
    ) -> list[alert_buttons.Outcome]:
        if not groups:
            return []
        buttons = self._buttons
        return await storm_silence.silence_all(
            buttons.sessions,
            buttons.alertmanager(),
            buttons.clock,
            storm_id=storm_id,
            group_ids=groups,
            user=user,
            one=buttons.silence,
            local=self._clicks,
        )

    async def on_ack_all(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        await self._act_on_all(body, "acknowledge", self._acknowledge_each)

    async def on_silence_all(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        await self._act_on_all(body, "silence", self._silence_together)

    async def on_open(self, ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        block = str(action.get("block_id", ""))
        storm_id = parse_group_id(block.removeprefix("storm-actions-"))
        group_id = parse_group_id(str((action.get("selected_option") or {}).get("value", "")))
        user = str((body.get("user") or {}).get("id", ""))
        if storm_id is None or group_id is None:
            await self._answers.ephemeral(body, "That menu is not valid any more.")
            return
        if await self._not_from_summary(body, storm_id, "open"):
            return
        buttons = self._buttons
        refusal = await open_group(
            buttons.sessions,
            buttons.clock,
            buttons.alerts,
            storm_id=storm_id,
            group_id=group_id,
            user=user,
        )
        if refusal is not None:
            await self._answers.ephemeral(body, refusal)
        self._answers.wake_outbox()


def _control(body: dict[str, Any]) -> tuple[int | None, str]:
    actions = body.get("actions") or [{}]
    user = str((body.get("user") or {}).get("id", ""))
    return parse_group_id(str(actions[0].get("value", ""))), user

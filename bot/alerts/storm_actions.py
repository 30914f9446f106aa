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
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from sqlalchemy import select

from alerts import messages as m
from bot.alerts import buttons as alert_buttons
from bot.alerts import storm_silence
from bot.alerts.groups import has_message, message_key, refresh_message
from bot.alerts.storm import summary_changed, summary_key
from bot.audit import trail
from bot.slack.clicks import clicked_on
from bot.storage.models import AlertGroup, AlertStorm, OutboxEntry, SlackMessage

if TYPE_CHECKING:
    from bot.service import Service

OneGroup = Callable[[int, str], Awaitable[alert_buttons.Outcome]]
AllGroups = Callable[[int, list[int], str], Awaitable[list[alert_buttons.Outcome]]]


async def listed_groups(service: Service, storm_id: int) -> list[int]:
    """Ids of the summary's groups still firing without a message of their own."""
    async with service.sessions() as session:
        groups = (
            await session.scalars(
                select(AlertGroup.id)
                .where(AlertGroup.storm_id == storm_id, AlertGroup.status == "firing")
                .order_by(AlertGroup.id)
            )
        ).all()
        own = set(
            (
                await session.scalars(
                    select(OutboxEntry.message_key).where(
                        OutboxEntry.message_key.in_([f"alert-group:{g}" for g in groups]),
                        OutboxEntry.op == "post",
                    )
                )
            ).all()
        )
    return [g for g in groups if f"alert-group:{g}" not in own]


async def open_group(service: Service, *, storm_id: int, group_id: int, user: str) -> str | None:
    """Post the group's full message (buttons, runbook, escalation thread) in the
    summary's thread; returns why not, or None when queued."""
    now = service.clock.now()
    config = service.config.alerts
    async with service.sessions.begin() as session:
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


def register(
    app: AsyncApp,
    service: Service,
    *,
    is_responder: Callable[[int, str], Awaitable[bool]],
    acknowledge: OneGroup,
    silence: OneGroup,
) -> None:
    """The summary's controls; `acknowledge` and `silence` are the single-group use cases
    as the group's own buttons call them."""

    async def refuse(
        body: dict[str, Any], storm_id: int, what: str, text: str, reason: str
    ) -> None:
        await service.refuse_click(
            body,
            text,
            action=f"alert.storm.{what}.refused",
            subject=f"storm:{storm_id}",
            reason=reason,
        )

    async def not_from_summary(body: dict[str, Any], storm_id: int, what: str) -> bool:
        """Refuses (audited) a control whose message is not the storm's summary."""
        if await clicked_on(service.sessions, body, summary_key(storm_id)):
            return False
        await refuse(body, storm_id, what, m.STORM_NOT_FROM_SUMMARY, "control not from its summary")
        return True

    async def yours(
        body: dict[str, Any], storm_id: int, user: str, what: str
    ) -> tuple[int, list[int]]:
        """How many groups are listed, and those `user` may act on ([] after telling them
        why not)."""
        if await not_from_summary(body, storm_id, what):
            return 0, []
        listed = await listed_groups(service, storm_id)
        if not listed:
            await service.ephemeral_from_body(body, m.STORM_NOTHING_TO_DO)
            return 0, []
        mine = [g for g in listed if await is_responder(g, user)]
        if not mine:
            await refuse(body, storm_id, what, m.NOT_A_RESPONDER, "not a responder")
        return len(listed), mine

    async def act_on_all(body: dict[str, Any], what: str, each: AllGroups) -> None:
        storm_id, user = _control(body)
        if storm_id is None:
            await service.ephemeral_from_body(body, "That button is not valid any more.")
            return
        listed, mine = await yours(body, storm_id, user, what)
        failures = [o.message for o in await each(storm_id, mine, user) if not o.ok]
        if failures:
            text = m.STORM_SOME_FAILED.format(
                done=len(mine) - len(failures), failed=len(failures), error=failures[0]
            )
            await service.ephemeral_from_body(body, text)
        elif mine and len(mine) < listed:
            text = m.STORM_SOME_NOT_YOURS.format(done=len(mine), left=listed - len(mine))
            await service.ephemeral_from_body(body, text)
        service.wake_outbox()

    async def acknowledge_quietly(group_id: int, user: str) -> alert_buttons.Outcome:
        await acknowledge(group_id, user)
        return alert_buttons.Outcome(True)  # one acknowledged meanwhile is as good

    async def acknowledge_each(
        _storm_id: int, groups: list[int], user: str
    ) -> list[alert_buttons.Outcome]:
        return [await acknowledge_quietly(g, user) for g in groups]

    clicks = asyncio.Lock()

    async def silence_together(
        storm_id: int, groups: list[int], user: str
    ) -> list[alert_buttons.Outcome]:
        if not groups:
            return []
        return await storm_silence.silence_all(
            service.sessions,
            service.alertmanager,
            service.clock,
            storm_id=storm_id,
            group_ids=groups,
            user=user,
            one=silence,
            local=clicks,
        )

    async def on_ack_all(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await act_on_all(body, "acknowledge", acknowledge_each)

    async def on_silence_all(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await act_on_all(body, "silence", silence_together)

    async def on_open(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        block = str(action.get("block_id", ""))
        storm_id = alert_buttons.parse_group_id(block.removeprefix("storm-actions-"))
        group_id = alert_buttons.parse_group_id(
            str((action.get("selected_option") or {}).get("value", ""))
        )
        user = str((body.get("user") or {}).get("id", ""))
        if storm_id is None or group_id is None:
            await service.ephemeral_from_body(body, "That menu is not valid any more.")
            return
        if await not_from_summary(body, storm_id, "open"):
            return
        refusal = await open_group(service, storm_id=storm_id, group_id=group_id, user=user)
        if refusal is not None:
            await service.ephemeral_from_body(body, refusal)
        service.wake_outbox()

    app.action("storm.ack_all")(on_ack_all)
    app.action("storm.silence_all")(on_silence_all)
    app.action("storm.open")(on_open)


def _control(body: dict[str, Any]) -> tuple[int | None, str]:
    actions = body.get("actions") or [{}]
    user = str((body.get("user") or {}).get("id", ""))
    return alert_buttons.parse_group_id(str(actions[0].get("value", ""))), user

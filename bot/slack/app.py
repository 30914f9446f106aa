"""The slack-bolt app: signature checks, then thin listeners that call the use cases.

Listeners ack at once (Slack wants an answer within 3 seconds), then do the work; any
Slack call they cause goes through the outbox, never from here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from alerts import messages as m
from bot.alerts import buttons as alert_buttons
from bot.alerts import pages as alert_pages
from bot.alerts import storm_actions
from bot.operations import handlers as operations
from bot.pagerduty import buttons as pagerduty_buttons
from bot.runbooks import handlers as runbooks
from bot.slack.clicks import clicked_in_thread_of, clicked_on
from commands.approval import is_member

if TYPE_CHECKING:
    from bot.service import Service

log = logging.getLogger(__name__)


def build_app(client: AsyncWebClient, signing_secret: str) -> AsyncApp:
    return AsyncApp(
        client=client,
        signing_secret=signing_secret,
        # The bot's own messages are posted by the outbox; bolt needs no OAuth or installs.
        installation_store=None,
        raise_error_for_unhandled_request=False,
        # Signatures are checked at the HTTP edge (bot/http/routes.py), where a rotated secret
        # applies at once; Socket Mode needs none.
        request_verification_enabled=False,
        logger=logging.getLogger("bot.slack"),
    )


def register(app: AsyncApp, service: Service) -> None:
    async def refused(
        body: dict[str, Any], group_id: int, user: str, what: str, *, in_thread: bool = False
    ) -> bool:
        key = f"alert-group:{group_id}"
        from_its_message = await clicked_on(service.sessions, body, key) or (
            # "Next 100" sits on a page the bot posted in the group's thread.
            in_thread and await clicked_in_thread_of(service.sessions, body, key)
        )
        if not from_its_message:
            # The value names a group the clicked message was not posted for.
            reason, answer = "button not from the group's message", m.NOT_FROM_ITS_MESSAGE
        elif await is_responder(group_id, user):
            return False
        else:
            reason, answer = "not a responder", m.NOT_A_RESPONDER
        await service.refuse_click(
            body,
            answer,
            action=f"alert.{what}.refused",
            subject=f"alert-group:{group_id}",
            reason=reason,
        )
        return True

    async def is_responder(group_id: int, user: str) -> bool:
        return await alert_buttons.may_respond(
            service.sessions,
            service.config.alerts,
            group_id=group_id,
            user=user,
            members=service.operations.directory.members,
        )

    async def is_approver(user: str) -> bool:
        """`runbooks.approvers`, else `deploy.approvers`: who may confirm a broad silence."""
        config = service.config
        principals = (
            config.runbooks.approvers
            if config.runbooks.approvers is not None
            else config.deploy.approvers
        )
        wanted = {p for p in principals if p.startswith("S")}
        groups = await service.operations.directory.groups_of(user, wanted)
        return is_member(principals, user, groups)

    async def acknowledge(group_id: int, user: str) -> alert_buttons.Outcome:
        return await alert_buttons.acknowledge(
            service.sessions,
            service.config.alerts,
            service.clock,
            group_id=group_id,
            user=user,
            listeners=service.group_listeners,
        )

    async def silence(group_id: int, user: str) -> alert_buttons.Outcome:
        return await alert_buttons.silence(
            service.sessions,
            service.alertmanager,
            service.clock,
            group_id=group_id,
            user=user,
            may_confirm=is_approver,
        )

    async def on_ack(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        group_id, user = _button(body)
        if group_id is None:
            await service.ephemeral_from_body(body, "That button is not valid any more.")
            return
        if await refused(body, group_id, user, "acknowledge"):
            return
        await _answer(service, body, await acknowledge(group_id, user))

    async def on_silence(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        group_id, user = _button(body)
        if group_id is None:
            await service.ephemeral_from_body(body, "That button is not valid any more.")
            return
        if await refused(body, group_id, user, "silence"):
            return
        await _answer(service, body, await silence(group_id, user))

    async def on_page(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        actions = body.get("actions") or [{}]
        request = alert_pages.parse_page_value(str(actions[0].get("value", "")))
        user = str((body.get("user") or {}).get("id", ""))
        if request is None:
            await service.ephemeral_from_body(body, "That button is not valid any more.")
            return
        if await refused(body, request.group_id, user, "page", in_thread=True):
            return
        problem = await alert_pages.post_page(service.sessions, service.clock, request)
        if problem:
            await service.ephemeral_from_body(body, problem)
        service.wake_outbox()

    app.action("alert.ack")(on_ack)
    app.action("alert.silence")(on_silence)
    app.action("alert.page")(on_page)
    storm_actions.register(
        app, service, is_responder=is_responder, acknowledge=acknowledge, silence=silence
    )
    # Slash commands and approval reactions.
    operations.register(app, service)
    runbooks.register(app, service)
    pagerduty_buttons.register(app, service)


def _button(body: dict[str, Any]) -> tuple[int | None, str]:
    actions = body.get("actions") or [{}]
    value = str(actions[0].get("value", ""))
    user = str((body.get("user") or {}).get("id", ""))
    return alert_buttons.parse_group_id(value), user


async def _answer(service: Service, body: dict[str, Any], outcome: alert_buttons.Outcome) -> None:
    """Successes show in the channel; a refusal is told only to the person who clicked."""
    if not outcome.ok and outcome.message:
        await service.ephemeral_from_body(body, outcome.message)
    service.wake_outbox()

"""The slack-bolt app: signature checks, then thin listeners that call the use cases.

Listeners ack at once (Slack wants an answer within 3 seconds), then do the work; any
Slack call they cause goes through the outbox, never from here. Each feature's listeners
live beside the feature as plain coroutines given the objects they use; this is where
they are attached to the bolt app, so only the Slack folder knows bolt.
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.handlers import AlertButtons
from bot.alerts.storm_actions import StormControls
from bot.incidents.handlers import COMMAND as INCIDENT_COMMAND
from bot.incidents.handlers import DECLARE_ACTION, IncidentListeners
from bot.oncall.feature import COMMAND as ONCALL_COMMAND
from bot.oncall.feature import OnCall
from bot.operations.handlers import COMMANDS, OperationListeners
from bot.pagerduty.buttons import IncidentButtons
from bot.runbooks.handlers import STEP_ACTIONS, RunbookListeners
from bot.slack.answers import SlackAnswers
from bot.slack.click_limit import ClickLimit
from commands.render import FORCE_ACTION
from oncall.render import PAGE_ACTION

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


def register(
    app: AsyncApp,
    *,
    alerts: AlertButtons,
    operations: OperationListeners,
    runbooks: RunbookListeners,
    incidents: IncidentButtons,
    answers: SlackAnswers | None = None,
    clicks: ClickLimit | None = None,
    declared: IncidentListeners | None = None,
    oncall: OnCall | None = None,
) -> None:
    """Every listener of the bot, by what Slack sends: one table to read."""
    if answers is not None:
        # Before any listener: the request's response_url, which its answers go through.
        app.use(answers.middleware)
    if clicks is not None:  # then: a click past the limit runs no listener
        app.middleware(clicks.middleware)
    storm = StormControls(alerts)
    for action_id, listener in (
        ("alert.ack", alerts.on_ack),
        ("alert.silence", alerts.on_silence),
        ("alert.page", alerts.on_page),
        ("storm.ack_all", storm.on_ack_all),
        ("storm.silence_all", storm.on_silence_all),
        ("storm.open", storm.on_open),
        (FORCE_ACTION, operations.on_force),
        ("runbook.open", runbooks.on_open),
        ("pagerduty.ack", incidents.on_ack),
        ("pagerduty.resolve", incidents.on_resolve),
    ):
        app.action(action_id)(listener)
    app.action(STEP_ACTIONS)(runbooks.on_step)
    # Slash commands and approval reactions.
    for name in COMMANDS:
        app.command(name)(operations.on_command)
    if declared is not None:  # declared incidents (bot/incidents)
        app.command(INCIDENT_COMMAND)(declared.on_command)
        app.action(DECLARE_ACTION)(declared.on_declare)
    app.event("reaction_added")(operations.on_reaction)
    app.event("reaction_removed")(operations.on_reaction)
    if oncall is not None:
        app.command(ONCALL_COMMAND)(oncall.on_command)
        app.action(PAGE_ACTION)(oncall.page_button.on_page)

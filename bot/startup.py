"""Refusing to start: what the service needs from the environment before it listens.

A missing secret is a start-up error that names its variable (bot/runner.py prints it and
exits), never a service that runs open or half-configured.
"""

from __future__ import annotations

from bot.settings import Settings


class StartupError(Exception):
    """The service cannot start; the message says what to fix."""


def slack_secrets(settings: Settings) -> tuple[str, str]:
    """The bot token and the signing secret; the service cannot start without them."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    signing = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )
    socket_mode = bool(settings.slack_app_token and settings.slack_app_token.get_secret_value())
    if not token:
        raise StartupError("SLACK_BOT_TOKEN is needed (or none at all, for sandbox mode)")
    if not signing and not socket_mode:
        # Socket Mode needs no signing secret: Slack's events arrive over the socket the
        # bot opened itself. Over HTTP, unsigned requests must never be accepted.
        raise StartupError(
            "SLACK_SIGNING_SECRET is needed to verify requests to /slack/events "
            "(or set SLACK_APP_TOKEN to use Socket Mode)"
        )
    return token, signing


def webhook_token(settings: Settings) -> str:
    am_token = settings.alertmanager_webhook_token
    if am_token is None or not am_token.get_secret_value():
        raise StartupError(
            "ALERTMANAGER_WEBHOOK_TOKEN is not set: the Alertmanager webhook would be open "
            "to anyone. Set it, and the same value in Alertmanager's webhook http_config."
        )
    return am_token.get_secret_value()

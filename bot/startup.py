"""Which mode `chatops serve` may start in, decided before anything listens.

The bot fails closed: sandbox mode (the in-process Slack emulator, its public fake secrets,
its control endpoints) runs only when asked for with `--sandbox`, and never with a real
credential in the environment, where it would swallow production alerts and answer forged
Slack requests. Outside the sandbox a missing, empty or malformed Slack credential is an
error naming the variable (an empty Secret key, a typo in the variable's source), never a
quiet fall-back.
"""

from __future__ import annotations

import re

from pydantic import SecretStr

from bot.settings import Settings

# Credentials that mean "this is a real deployment": none may be set for --sandbox.
REAL_CREDENTIALS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "PAGERDUTY_ROUTING_KEY",
    "PAGERDUTY_API_TOKEN",
    "PAGERDUTY_WEBHOOK_SECRET",
    "CHATOPS_AWS_SECRET_ID",
)
# Slack's bot tokens are "xoxb-" and dash-separated alphanumerics.
BOT_TOKEN = re.compile(r"xoxb-[A-Za-z0-9][A-Za-z0-9-]*")


def _value(settings: Settings, name: str) -> str:
    value = getattr(settings, name.lower(), None)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value or ""


def sandbox_problem(settings: Settings) -> str | None:
    """Why `--sandbox` must not start with these settings; None when it may."""
    present = [name for name in REAL_CREDENTIALS if _value(settings, name)]
    if not present:
        return None
    return (
        f"--sandbox refuses to start with real credentials set: {', '.join(present)}. "
        "The sandbox replaces them with its own fakes; unset them to try the bot locally, "
        "or run without --sandbox."
    )


def production_problem(settings: Settings) -> str | None:
    """Why the bot must not start against real Slack with these settings; None when it may.
    Never quotes a value."""
    if settings.slack_bot_token is None:
        return (
            "SLACK_BOT_TOKEN is not set: set the Slack app's bot token (xoxb-...), "
            "or pass --sandbox to try the bot locally against the built-in Slack emulator"
        )
    token = settings.slack_bot_token.get_secret_value()
    if not token:
        return "SLACK_BOT_TOKEN is set but empty: set the Slack app's bot token (xoxb-...)"
    if not BOT_TOKEN.fullmatch(token):
        return (
            "SLACK_BOT_TOKEN is malformed: a bot token starts with xoxb- "
            "(an xoxp-/xapp- token or stray whitespace is not one)"
        )
    socket_mode = bool(_value(settings, "SLACK_APP_TOKEN"))
    if settings.slack_signing_secret is None and not socket_mode:
        return "SLACK_SIGNING_SECRET is not set: it verifies every request to /slack/events"
    if not _value(settings, "SLACK_SIGNING_SECRET") and not socket_mode:
        return "SLACK_SIGNING_SECRET is set but empty: it verifies every request to /slack/events"
    return None


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
        raise StartupError("SLACK_BOT_TOKEN is needed (or `chatops serve --sandbox`)")
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

"""Which secrets the bot needs depends on how Slack reaches it."""

from __future__ import annotations

import pytest


def test_socket_mode_needs_no_signing_secret_but_http_does(tmp_path: object) -> None:
    from pydantic import SecretStr

    from bot.config import BUNDLED_EXAMPLE, load_config
    from bot.service import Service, StartupError
    from bot.settings import Settings

    config = load_config(BUNDLED_EXAMPLE)
    base = {
        "slack_bot_token": SecretStr("xoxb-1"),
        "alertmanager_webhook_token": SecretStr("t"),
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/x.db",
    }
    Service(
        Settings.model_construct(
            **{**Settings().model_dump(), **base, "slack_app_token": SecretStr("xapp-1")}
        ),
        config,
    )
    with pytest.raises(StartupError, match="SLACK_SIGNING_SECRET"):
        Service(Settings.model_construct(**{**Settings().model_dump(), **base}), config)

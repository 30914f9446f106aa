"""Settings from the environment (the twelve-factor half of the configuration).

Secrets and endpoints come from the environment so that the YAML config can be committed;
`SecretStr` keeps tokens out of reprs, logs and tracebacks.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    chatops_config: str = Field(
        default="chatops.yaml",
        description="Config file; when it does not exist the sandbox uses the bundled example.",
    )
    database_url: str = "sqlite+aiosqlite:///chatops.db"
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    alertmanager_webhook_token: SecretStr | None = None
    alertmanager_url: str | None = None
    pagerduty_routing_key: SecretStr | None = None
    pagerduty_events_url: str = "https://events.pagerduty.com"
    pagerduty_api_url: str = "https://api.pagerduty.com"
    pagerduty_api_token: SecretStr | None = None
    pagerduty_webhook_secret: SecretStr | None = None

    @property
    def sandbox(self) -> bool:
        """No Slack token: run against the in-process Slack emulator."""
        return self.slack_bot_token is None or not self.slack_bot_token.get_secret_value()

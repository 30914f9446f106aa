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
        description="Config file; when it does not exist --sandbox uses the bundled example.",
    )
    database_url: str = "sqlite+aiosqlite:///chatops.db"
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    alertmanager_webhook_token: SecretStr | None = None
    alertmanager_webhook_username: str = Field(
        default="alertmanager",
        description="The basic-auth username Alertmanager must send with the webhook token.",
    )
    alertmanager_url: str | None = None
    prometheus_url: str | None = Field(
        default=None,
        description="Prometheus's HTTP API root, for bake analysis and graphs (optional).",
    )
    pagerduty_routing_key: SecretStr | None = None
    pagerduty_events_url: str = "https://events.pagerduty.com"
    pagerduty_api_url: str = "https://api.pagerduty.com"
    pagerduty_api_token: SecretStr | None = None
    pagerduty_webhook_secret: SecretStr | None = None
    chatops_audit_key: SecretStr | None = Field(
        default=None,
        description="Signs the audit log's pruning checkpoint; needed only when "
        "retention.audit is a duration (nothing is pruned without it).",
    )
    chatops_aws_secret_id: str | None = Field(
        default=None,
        description="AWS Secrets Manager secret (JSON) whose keys override the secret settings.",
    )
    chatops_aws_endpoint_url: str | None = Field(
        default=None, description="Endpoint override for Secrets Manager (LocalStack, tests)."
    )
    aws_region: str | None = None
    aws_default_region: str | None = None


async def with_secrets(settings: Settings) -> Settings:
    """Settings with the values of CHATOPS_AWS_SECRET_ID laid over the environment's.

    Secrets Manager wins over the environment, so that rotating the secret and sending
    SIGHUP takes effect even where an old value is still in the pod's environment.
    """
    if not settings.chatops_aws_secret_id:
        return settings
    from actions.aws.clients import AwsClients
    from actions.aws.secrets import fetch_secret_settings

    region = settings.aws_region or settings.aws_default_region or "us-east-1"
    values = await fetch_secret_settings(
        settings.chatops_aws_secret_id,
        region=region,
        clients=AwsClients(endpoint_url=settings.chatops_aws_endpoint_url),
    )
    update: dict[str, object] = {}
    for key, value in values.items():
        name = key.lower()
        update[name] = value if name == "database_url" else SecretStr(value)
    return settings.model_copy(update=update)

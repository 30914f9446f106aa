"""Reading the bot's secrets from AWS Secrets Manager.

One secret holds a JSON object of the bot's secret settings (SLACK_BOT_TOKEN, ...), so a
rotation is one `PutSecretValue` and a SIGHUP. Errors name keys, never values.
"""

from __future__ import annotations

import json

from actions.aws.clients import AwsClients
from actions.aws.errors import AwsError

SECRET_KEYS = frozenset(
    {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "ALERTMANAGER_WEBHOOK_TOKEN",
        "PAGERDUTY_ROUTING_KEY",
        "PAGERDUTY_API_TOKEN",
        "PAGERDUTY_WEBHOOK_SECRET",
        "DATABASE_URL",
    }
)


class SecretsError(Exception):
    """The secret could not be read or has the wrong shape; safe to log."""


async def fetch_secret_settings(
    secret_id: str, *, region: str, clients: AwsClients | None = None
) -> dict[str, str]:
    """The secret's key/value pairs, checked against the keys the bot knows."""
    clients = clients or AwsClients()
    try:
        answer = await clients.call(
            "secretsmanager", region, "get_secret_value", SecretId=secret_id
        )
    except AwsError as exc:
        raise SecretsError(f"could not read secret {secret_id!r}: {exc}") from exc
    raw = answer.get("SecretString")
    if not isinstance(raw, str):
        raise SecretsError(
            f"secret {secret_id!r} has no SecretString (binary secrets are not read)"
        )
    try:
        data = json.loads(raw)
    except ValueError:
        raise SecretsError(f"secret {secret_id!r} is not a JSON object") from None
    if not isinstance(data, dict):
        raise SecretsError(f"secret {secret_id!r} is not a JSON object")
    unknown = sorted(str(k) for k in data if k not in SECRET_KEYS)
    if unknown:
        raise SecretsError(
            f"secret {secret_id!r} has keys the bot does not use: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(SECRET_KEYS))})"
        )
    bad = sorted(str(k) for k, v in data.items() if not isinstance(v, str) or not v)
    if bad:
        raise SecretsError(f"secret {secret_id!r}: {', '.join(bad)} must be non-empty strings")
    return {str(k): str(v) for k, v in data.items()}

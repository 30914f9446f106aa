"""Secrets from AWS Secrets Manager, against moto's server over real HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from actions.aws.secrets import SecretsError
from bot.settings import Settings, with_secrets
from tests.servers.moto_server import MotoServer, credentials_env, running_moto_server


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with running_moto_server() as server:
        yield server


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in credentials_env().items():
        monkeypatch.setenv(key, value)


def put(moto: MotoServer, value: object) -> str:
    name = f"chatops/{uuid.uuid4().hex[:8]}"
    moto.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(value))
    return name


def settings(moto: MotoServer, secret_id: str, **env: str) -> Settings:
    return Settings.model_construct(
        **{
            **Settings().model_dump(),
            "chatops_aws_secret_id": secret_id,
            "chatops_aws_endpoint_url": moto.endpoint_url,
            "aws_region": "us-east-1",
            **env,
        }
    )


async def test_secret_values_override_the_environment(moto: MotoServer) -> None:
    secret = put(
        moto,
        {
            "SLACK_BOT_TOKEN": "xoxb-from-aws",
            "ALERTMANAGER_WEBHOOK_TOKEN": "am-aws",
            "DATABASE_URL": "sqlite+aiosqlite:///aws.db",
        },
    )
    loaded = await with_secrets(settings(moto, secret))
    assert loaded.slack_bot_token is not None
    assert loaded.slack_bot_token.get_secret_value() == "xoxb-from-aws"
    assert loaded.alertmanager_webhook_token.get_secret_value() == "am-aws"  # type: ignore[union-attr]
    assert loaded.database_url == "sqlite+aiosqlite:///aws.db"
    assert "xoxb-from-aws" not in repr(loaded)  # SecretStr keeps it out of reprs and logs


async def test_rotation_is_picked_up_on_the_next_read(moto: MotoServer) -> None:
    secret = put(moto, {"SLACK_SIGNING_SECRET": "old"})
    first = await with_secrets(settings(moto, secret))
    moto.client("secretsmanager").put_secret_value(
        SecretId=secret, SecretString=json.dumps({"SLACK_SIGNING_SECRET": "new"})
    )
    second = await with_secrets(settings(moto, secret))
    assert first.slack_signing_secret.get_secret_value() == "old"  # type: ignore[union-attr]
    assert second.slack_signing_secret.get_secret_value() == "new"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"SLACK_TOKEN": "xoxb-leak-me"}, "keys the bot does not use: SLACK_TOKEN"),
        (["xoxb-leak-me"], "not a JSON object"),
        ({"SLACK_BOT_TOKEN": ""}, "must be non-empty strings"),
    ],
)
async def test_bad_secrets_are_named_without_their_values(
    moto: MotoServer, value: object, message: str
) -> None:
    secret = put(moto, value)
    with pytest.raises(SecretsError) as raised:
        await with_secrets(settings(moto, secret))
    assert message in str(raised.value)
    assert "xoxb-leak-me" not in str(raised.value)


async def test_a_missing_secret_is_a_clear_error(moto: MotoServer) -> None:
    with pytest.raises(SecretsError, match="could not read secret 'chatops/nope'"):
        await with_secrets(settings(moto, "chatops/nope"))

"""The reusable moto server helper: its own server, fake credentials, reset."""

from __future__ import annotations

from tests.servers.moto_server import credentials_env, running_moto_server


def test_helper_serves_on_loopback_resets_and_stops() -> None:
    with running_moto_server() as server:
        assert server.endpoint_url.startswith("http://127.0.0.1:")
        secrets = server.client("secretsmanager")
        secrets.create_secret(Name="scratch", SecretString="s3cr3t")
        assert [s["Name"] for s in secrets.list_secrets()["SecretList"]] == ["scratch"]

        server.reset()

        assert secrets.list_secrets()["SecretList"] == []
    assert server._process.poll() is not None  # the child is gone


def test_credentials_env_is_fake_and_names_a_region() -> None:
    env = credentials_env("eu-west-1")

    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"

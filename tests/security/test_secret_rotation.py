"""Rotating secrets in AWS Secrets Manager and sending SIGHUP: no restart, no leak."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.moto_server import MotoServer, credentials_env, running_moto_server
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with running_moto_server() as server:
        yield server


def post_alert(port: int, token: str) -> int:
    body = (ROOT / "examples/alerts/high-latency-firing.json").read_bytes()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/alertmanager",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def wait_until(check, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def test_sighup_applies_a_rotated_webhook_token_and_never_logs_secrets(
    moto: MotoServer, tmp_path: Path
) -> None:
    secret_id = f"chatops/{uuid.uuid4().hex[:8]}"
    client = moto.client("secretsmanager")
    old = {
        "SLACK_BOT_TOKEN": "xoxb-rotate-old",
        "SLACK_SIGNING_SECRET": "sign-old-123",
        "ALERTMANAGER_WEBHOOK_TOKEN": "am-old-456",
    }
    client.create_secret(Name=secret_id, SecretString=json.dumps(old))
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "ALERTMANAGER_", "CHATOPS_"))
    }
    env.update(credentials_env())
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        CHATOPS_CONFIG=str(ROOT / "examples/chatops.yaml"),
        CHATOPS_AWS_SECRET_ID=secret_id,
        CHATOPS_AWS_ENDPOINT_URL=moto.endpoint_url,
        SLACK_API_URL="http://127.0.0.1:9/api/",  # never reached in this test
        CHATOPS_LOG_LEVEL="DEBUG",
    )
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_until(lambda: post_alert(port, "am-old-456") == 200), log.read_text()
        new = {**old, "ALERTMANAGER_WEBHOOK_TOKEN": "am-new-789"}
        client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(new))
        assert post_alert(port, "am-new-789") == 401  # not before the reload
        process.send_signal(signal.SIGHUP)
        assert wait_until(lambda: post_alert(port, "am-new-789") == 200), log.read_text()
        assert post_alert(port, "am-old-456") == 401
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    text = log.read_text()
    assert "secrets reloaded" in text
    for value in ("xoxb-rotate-old", "sign-old-123", "am-old-456", "am-new-789"):
        assert value not in text


async def test_a_rotated_signing_secret_applies_to_the_next_slack_request(
    sqlite_url: str, start_service, emulator
) -> None:  # type: ignore[no-untyped-def]
    from pydantic import SecretStr

    bot = await start_service(sqlite_url)
    body = b"payload=%7B%7D"
    old_headers = emulator.sign(body)
    bot.service.apply_settings(
        bot.service.settings.model_copy(
            update={"slack_signing_secret": SecretStr("rotated-secret")}
        )
    )
    stale = await emulator.send_raw(body, old_headers, "application/x-www-form-urlencoded")
    assert stale.status == 401
    emulator.signing_secret = "rotated-secret"
    fresh = await emulator.send_raw(body, emulator.sign(body), "application/x-www-form-urlencoded")
    assert fresh.status != 401

"""`chatops serve` fails closed (issue 21): no quiet fall-back into sandbox mode.

An empty SLACK_BOT_TOKEN (a Secret whose key is empty, a typo in the variable's source)
used to start the sandbox: the emulator listening, its public signing secret replacing the
configured one, production alerts readable at `/_emulator/calls`. Now every bad or missing
Slack credential is a start-up error naming the variable, with nothing listening, and
`--sandbox` refuses to start while any real credential is set.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import load_config
from bot.runner import serve
from bot.settings import Settings
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "chatops.yaml")
# What a production deployment sets besides the Slack credentials under test.
OTHERS = {"ALERTMANAGER_WEBHOOK_TOKEN": "am-token", "SLACK_API_URL": "http://127.0.0.1:9/api/"}
REAL = {
    "SLACK_BOT_TOKEN": "xoxb-1234-5678-real",
    "SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543",
    "SLACK_APP_TOKEN": "xapp-1-A01-123-abc",
    "PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
    "PAGERDUTY_API_TOKEN": "u+realtoken",
    "PAGERDUTY_WEBHOOK_SECRET": "whsec-real",
}


def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "ALERTMANAGER_", "PAGERDUTY_", "CHATOPS_", "DATABASE_"))
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        CHATOPS_CONFIG=EXAMPLE,
        CHATOPS_STATE_DIR=str(tmp_path / "state"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def refused_start(tmp_path: Path, *args: str, **env: str) -> str:
    """Run `chatops serve ...`; it must exit non-zero by itself without ever listening on
    the bot's port or the emulator's. Its stderr."""
    port, sandbox_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--port",
            str(port),
            "--sandbox-port",
            str(sandbox_port),
            *args,
        ],
        cwd=tmp_path,
        env=serve_env(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    heard = False
    deadline = time.monotonic() + 30
    try:
        while process.poll() is None and time.monotonic() < deadline:
            heard = heard or listening(port) or listening(sandbox_port)
            try:
                process.wait(timeout=0.05)  # between probes: its exit, or 50 ms
            except subprocess.TimeoutExpired:
                pass
    finally:
        if process.poll() is None:
            process.kill()
    out, err = process.communicate(timeout=10)
    assert process.returncode not in (None, 0, -9), f"it kept running:\n{out}{err}"
    assert not heard, f"something listened before it gave up:\n{out}{err}"
    assert "Traceback" not in err, err
    assert not (tmp_path / "state").exists() or not list((tmp_path / "state").iterdir())
    return err


def test_an_empty_bot_token_is_a_start_up_error_naming_it(tmp_path: Path) -> None:
    """The measured case: SLACK_BOT_TOKEN set but empty started the sandbox."""
    err = refused_start(tmp_path, **OTHERS, SLACK_BOT_TOKEN="", SLACK_SIGNING_SECRET="sign")
    assert "SLACK_BOT_TOKEN is set but empty" in err, err


def test_no_token_and_no_sandbox_says_to_pass_sandbox(tmp_path: Path) -> None:
    err = refused_start(tmp_path, **OTHERS)
    assert "SLACK_BOT_TOKEN is not set" in err and "--sandbox" in err, err


def test_sandbox_refuses_to_start_with_real_credentials_naming_each(tmp_path: Path) -> None:
    err = refused_start(tmp_path, "--sandbox", **REAL)
    for name, value in REAL.items():
        assert name in err and value not in err, err


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SLACK_BOT_TOKEN": "xoxp-12-34", "SLACK_SIGNING_SECRET": "sign"}, "SLACK_BOT_TOKEN is"),
        ({"SLACK_BOT_TOKEN": " xoxb-1-2", "SLACK_SIGNING_SECRET": "sign"}, "SLACK_BOT_TOKEN is"),
        ({"SLACK_BOT_TOKEN": "xoxb-1-2", "SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxb-1-2"}, "SLACK_SIGNING_SECRET"),
    ],
    ids=["user-token", "token-with-space", "empty-signing", "no-signing"],
)
async def test_each_malformed_slack_credential_is_refused_before_listening(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    named: str,
) -> None:
    """The same start-up path in-process (each variant in a subprocess would take seconds):
    a serve told to stop at once returns 0 if it started, 2 if it refused."""
    for key, value in serve_env(tmp_path, **OTHERS, **env).items():
        monkeypatch.setenv(key, value)
    for key in {"SLACK_SIGNING_SECRET"} - set(env):
        monkeypatch.delenv(key, raising=False)
    stop = asyncio.Event()
    stop.set()
    port = free_port()
    status = await serve(
        Settings(), load_config(Path(EXAMPLE)), host="127.0.0.1", port=port, stop=stop
    )
    err = capsys.readouterr().err
    assert status == 2 and named in err, err
    for value in ("xoxp-12-34", "xoxb-1-2", "sign"):
        assert value not in err  # named, never quoted


@pytest.mark.parametrize("name", sorted(REAL))
async def test_sandbox_refuses_each_real_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    monkeypatch.setenv("CHATOPS_STATE_DIR", str(tmp_path / "state"))
    settings = Settings.model_construct(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        **{name.lower(): SecretStr(REAL[name])},
    )
    stop = asyncio.Event()
    stop.set()
    sandbox_port = free_port()
    status = await serve(
        settings,
        load_config(Path(EXAMPLE)),
        host="127.0.0.1",
        port=free_port(),
        sandbox=True,
        sandbox_port=sandbox_port,
        stop=stop,
    )
    err = capsys.readouterr().err
    assert status == 2 and name in err and REAL[name] not in err, err
    assert not (tmp_path / "state").exists()


async def test_sandbox_on_a_public_host_needs_sandbox_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve --sandbox --host 0.0.0.0` (the container's command line) is refused: the
    sandbox's fake secrets and control endpoints would face the network."""
    monkeypatch.setenv("CHATOPS_STATE_DIR", str(tmp_path / "state"))
    stop = asyncio.Event()
    stop.set()
    status = await serve(
        Settings.model_construct(database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"),
        load_config(Path(EXAMPLE)),
        host="0.0.0.0",  # noqa: S104
        port=free_port(),
        sandbox=True,
        sandbox_port=free_port(),
        stop=stop,
    )
    assert status == 2 and "--sandbox-host 0.0.0.0" in capsys.readouterr().err


def test_readyz_says_production_for_a_real_deployment(tmp_path: Path) -> None:
    port = free_port()
    env = serve_env(tmp_path, **OTHERS, SLACK_BOT_TOKEN="xoxb-1-2", SLACK_SIGNING_SECRET="s")
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
        body = None
        deadline = time.monotonic() + 30
        while body is None and process.poll() is None and time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{port}/readyz"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    body = json.loads(answer.read())
            except OSError:
                time.sleep(0.05)
        assert body is not None, log.read_text()
        assert body["status"] == "ready" and body["mode"] == "production"
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_sandbox_host_listens_elsewhere_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--sandbox-host 0.0.0.0` (a container's port mapping): it starts, says so on
    stderr, and still wants its token and its own Host."""
    import aiohttp

    monkeypatch.setenv("CHATOPS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CHATOPS_SANDBOX_PRINT", "0")
    stop = asyncio.Event()
    sandbox_port = free_port()
    running = asyncio.create_task(
        serve(
            Settings.model_construct(database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"),
            load_config(Path(EXAMPLE)),
            host="0.0.0.0",  # noqa: S104
            port=free_port(),
            sandbox=True,
            sandbox_host="0.0.0.0",  # noqa: S104
            sandbox_port=sandbox_port,
            stop=stop,
        )
    )
    token_file = tmp_path / "state" / f"sandbox-{sandbox_port}.token"
    try:
        for _ in range(400):
            if token_file.exists() or running.done():
                break
            await asyncio.sleep(0.025)
        assert "warning: the sandbox listens on 0.0.0.0" in capsys.readouterr().err
        token = token_file.read_text().strip()
        url = f"http://127.0.0.1:{sandbox_port}/_emulator/users"
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as answer:
                assert answer.status == 401
            async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as answer:
                assert answer.status == 200
            foreign = {"Authorization": f"Bearer {token}", "Host": f"evil.example:{sandbox_port}"}
            async with http.get(url, headers=foreign) as answer:
                assert answer.status == 421
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 30) == 0
    assert not token_file.exists()  # removed on the way out

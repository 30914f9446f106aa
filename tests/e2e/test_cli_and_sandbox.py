"""The `chatops` command as a user runs it: config checks, migrations, the sandbox, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "ALERTMANAGER_", "PAGERDUTY_", "CHATOPS_", "DATABASE_"))
    }
    base.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "PYTHONUNBUFFERED": "1",
            "CHATOPS_STATE_DIR": str(tmp_path / "state"),
        }
    )
    base.update(extra)
    return base


def chatops(*args: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_config_accepts_the_example_and_names_each_problem(tmp_path: Path) -> None:
    ok = chatops("check-config", str(ROOT / "examples" / "chatops.yaml"), tmp_path=tmp_path)
    assert ok.returncode == 0 and "OK" in ok.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "alerts:\n  routes:\n    - channel: C0000ALERT\n      colour: red\n"
        "  escalation:\n    P1: {page_after: -5m}\n"
    )
    bad = chatops("check-config", str(broken), tmp_path=tmp_path)
    assert bad.returncode == 2
    assert "line 4: alerts.routes.0.colour: unknown key" in bad.stderr
    assert "line 6: alerts.escalation.P1.page_after" in bad.stderr


def test_migrate_upgrade_current_downgrade(tmp_path: Path) -> None:
    assert "database at 0" in chatops("migrate", tmp_path=tmp_path).stdout
    assert "(head)" in chatops("migrate", "current", tmp_path=tmp_path).stdout
    assert "base" in chatops("migrate", "downgrade", "base", tmp_path=tmp_path).stdout


def test_serve_refuses_an_invalid_config_with_the_same_message(tmp_path: Path) -> None:
    config = tmp_path / "chatops.yaml"
    config.write_text("alerts:\n  routes: []\n")
    result = chatops(
        "serve",
        "--sandbox",
        "--port",
        str(free_port()),
        tmp_path=tmp_path,
        CHATOPS_CONFIG=str(config),
    )
    assert result.returncode == 2 and "alerts.routes" in result.stderr


def test_serve_outside_the_sandbox_needs_the_webhook_token(tmp_path: Path) -> None:
    result = chatops(
        "serve",
        "--port",
        str(free_port()),
        tmp_path=tmp_path,
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        CHATOPS_CONFIG=str(ROOT / "examples" / "chatops.yaml"),
    )
    assert result.returncode == 2 and "ALERTMANAGER_WEBHOOK_TOKEN" in result.stderr


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, int, Path]]:
    port, emulator_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot",
                "serve",
                "--sandbox",
                "--port",
                str(port),
                "--sandbox-port",
                str(emulator_port),
            ],
            cwd=tmp_path,
            env=env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", process, log)
        yield process, port, emulator_port, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[str], log: Path) -> None:
    async def poll() -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):  # 30 s: a loaded CI machine takes seconds to import the bot
                if process.poll() is not None:
                    raise AssertionError(f"serve exited:\n{log.read_text()}")
                try:
                    async with http.get(url) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
            raise AssertionError(f"serve never became ready:\n{log.read_text()}")

    asyncio.run(poll())


def test_sandbox_prints_each_message_and_the_sandbox_commands_drive_it(
    sandbox: tuple[subprocess.Popen[str], int, int, Path], tmp_path: Path
) -> None:
    _process, port, emulator_port, log = sandbox
    urls = ["--bot", f"http://127.0.0.1:{port}", "--emulator", f"http://127.0.0.1:{emulator_port}"]
    sent = chatops("sandbox", *urls, "alert", "high-latency-firing", tmp_path=tmp_path)
    assert sent.returncode == 0 and "accepted" in sent.stdout, sent.stderr

    deadline = time.monotonic() + 10
    while "HighLatency" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    printed = log.read_text()
    assert "P2 · FIRING · HighLatency" in printed
    assert "[Acknowledge]" in printed  # buttons shown as readable text

    listed = chatops(
        "sandbox", *urls, "messages", "--channel", "C0000ALERT", "--json", tmp_path=tmp_path
    )
    messages = json.loads(listed.stdout)
    ts = messages[0]["ts"] if isinstance(messages, list) else messages["messages"][0]["ts"]
    clicked = chatops(
        "sandbox", *urls, "click", "C0000ALERT", ts, "alert.ack", "1", tmp_path=tmp_path
    )
    assert clicked.returncode == 0, clicked.stdout + clicked.stderr
    deadline = time.monotonic() + 10
    while "acknowledged this" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "acknowledged this" in log.read_text()


def test_sigterm_finishes_accepted_work_before_exiting(
    sandbox: tuple[subprocess.Popen[str], int, int, Path], tmp_path: Path
) -> None:
    process, port, _, log = sandbox

    async def storm() -> None:
        async with aiohttp.ClientSession() as http:
            for index in range(30):
                payload = json.loads(
                    (ROOT / "examples/alerts/high-latency-firing.json").read_text()
                )
                payload["groupKey"] = f"sigterm-{index}"
                async with http.post(
                    f"http://127.0.0.1:{port}/webhooks/alertmanager",
                    json=payload,
                    headers={"Authorization": "Bearer sandbox-token"},
                ) as response:
                    assert response.status == 200

    asyncio.run(storm())
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, log.read_text()

    db = sqlite3.connect(tmp_path / "bot.db")
    states = dict(
        db.execute("SELECT state, count(*) FROM webhook_deliveries GROUP BY state").fetchall()
    )
    outbox = dict(db.execute("SELECT state, count(*) FROM slack_outbox GROUP BY state").fetchall())
    assert states == {"done": 30}
    # Nothing accepted is left unsent. Thirty groups in one channel are a storm at Slack's
    # rate (their queue would take more than `storm_threshold` seconds), so the groups past
    # the threshold are named in one summary instead of posted one by one; a post still
    # queued when the storm opened is kept as 'folded' (never sent), its group in the summary.
    assert set(outbox) <= {"sent", "folded"}, outbox
    unnamed = db.execute(
        "SELECT count(*) FROM slack_outbox o JOIN alert_groups g"
        " ON o.message_key = 'alert-group:' || g.id"
        " WHERE o.state = 'folded' AND g.storm_id IS NULL"
    ).fetchone()
    assert unnamed[0] == 0
    folded = db.execute("SELECT count(*) FROM alert_groups WHERE storm_id IS NOT NULL").fetchone()
    own = db.execute(
        "SELECT count(*) FROM slack_outbox WHERE op = 'post' AND state = 'sent'"
        " AND message_key LIKE 'alert-group:%'"
    ).fetchone()
    assert own[0] + folded[0] == 30

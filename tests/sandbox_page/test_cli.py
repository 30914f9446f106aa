"""`chatops sandbox ...` as a newcomer types it: every mistake exits non-zero with one
clear line, and a busy port is one line, not a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.sandbox_page.conftest import Sandbox, clean_env
from tests.support.services import free_port


def fails_with(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_mistakes_exit_non_zero_with_a_clear_line(sandbox: Sandbox) -> None:
    fails_with(
        sandbox.cli("command", "/depoly api v1.4.0"), "/depoly is not a valid command", "/deploy"
    )
    fails_with(
        sandbox.cli("command", "/deploy api v1.4.0", "--as", "U0000NOPE1"),
        "unknown user 'U0000NOPE1'",
        "U0000OUT01 (Sam Outsider)",
    )
    fails_with(
        sandbox.cli("react", "C0000DEPLY", "123.456", "white_check_mark"), "no message 123.456"
    )
    fails_with(sandbox.cli("react", "C0000NOPE1", "latest", "x"), "unknown channel 'C0000NOPE1'")
    fails_with(
        sandbox.cli("click", "C0000INCID", "latest", "Acknowledge"), "no button 'Acknowledge'"
    )
    fails_with(sandbox.cli("alert", "api-down-p0", "--token", "wrong"), "the bot answered 401")

    sandbox.cli("command", "/deploy api v1.4.0 staging")
    request = sandbox.cli("messages", "--channel", "C0000DEPLY")
    ts = request.stdout.split("ts=", 1)[1].split()[0]
    fails_with(sandbox.cli("react", "C0000DEPLY", ts, "white_check_mrak"), "no emoji called")


def test_messages_are_readable_text_and_json_on_request(sandbox: Sandbox) -> None:
    assert sandbox.cli("alert", "high-latency-firing").returncode == 0
    readable = sandbox.cli("messages", "--channel", "C0000ALERT")
    raw = sandbox.cli("messages", "--channel", "C0000ALERT", "--json")

    assert readable.returncode == 0 and raw.returncode == 0
    assert readable.stdout.startswith("== C0000ALERT ts=")
    assert "\\u" not in readable.stdout and "[Acknowledge]" in readable.stdout
    assert raw.stdout.lstrip().startswith("{")


def test_nothing_running_says_how_to_start_it(tmp_path: Path) -> None:
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", "--emulator", f"http://127.0.0.1:{port}", "users"],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    fails_with(done, f"nothing answers at http://127.0.0.1:{port}", "make sandbox")


def test_a_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "serve",
                "--sandbox",
                "--port",
                str(free_port()),
                "--sandbox-port",
                str(busy),
            ],
            cwd=tmp_path,
            env=clean_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"error: port {busy} on 127.0.0.1 is already in use" in done.stderr

"""A real sandbox (`chatops serve --sandbox`) and a real headless Chromium."""

from __future__ import annotations

import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.services import free_port, missing

ROOT = Path(__file__).resolve().parents[2]
# Every WebDriver request logged at DEBUG would bury a failure's own message.
for _noisy in ("selenium", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)
# CI uploads this folder as an artifact; the README names it.
SCREENSHOTS = ROOT / "artifacts" / "sandbox-screenshots"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
)


def clean_env(cwd: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "ALERTMANAGER_", "PAGERDUTY_", "CHATOPS_", "DATABASE_"))
    }
    env.update(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'chatops.db'}",
            "PYTHONUNBUFFERED": "1",
            # The sandbox's token file, where `chatops sandbox ...` finds it: the test's own.
            "CHATOPS_STATE_DIR": str(cwd / "state"),
        }
    )
    return env


@dataclass
class Sandbox:
    process: subprocess.Popen[str]
    port: int
    sandbox_port: int
    cwd: Path
    output: list[str] = field(default_factory=list)
    page: str = ""  # the address `serve` printed, with this run's token

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}/"

    @property
    def token(self) -> str:
        return self.page.partition("?token=")[2]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`chatops sandbox ...` against this sandbox, as a second terminal runs it."""
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "sandbox",
                "--bot",
                f"http://127.0.0.1:{self.port}",
                "--emulator",
                f"http://127.0.0.1:{self.sandbox_port}",
                *args,
            ],
            cwd=self.cwd,
            env=clean_env(self.cwd),
            capture_output=True,
            text=True,
            timeout=60,
        )


def start_sandbox(
    cwd: Path,
    port: int | None = None,
    sandbox_port: int | None = None,
    env: dict[str, str] | None = None,
) -> Sandbox:
    port, sandbox_port = port or free_port(), sandbox_port or free_port()
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
            str(sandbox_port),
        ],
        cwd=cwd,
        env={**clean_env(cwd), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    sandbox = Sandbox(process, port, sandbox_port, cwd)
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            sandbox.output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        if line.startswith("Open http://"):
            sandbox.page = line.split()[1]
            return sandbox
    process.kill()
    raise AssertionError("the sandbox did not start:\n" + "".join(sandbox.output))


def stop_sandbox(sandbox: Sandbox) -> None:
    sandbox.process.terminate()
    try:
        sandbox.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        sandbox.process.kill()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    running = start_sandbox(tmp_path)
    try:
        yield running
    finally:
        stop_sandbox(running)


def chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing("Chromium and chromedriver", "apt-get install -y chromium chromium-driver")
    assert browser is not None and driver is not None
    return browser, driver


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("selenium", "pip install -e '.[test]'")
    binary, driver_path = chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chatops-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

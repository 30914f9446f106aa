"""Running Debian's real Alertmanager on loopback for end-to-end tests."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.services import alertmanager_binary, free_port

CONFIG = """\
route:
  receiver: chatops
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: chatops
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


@dataclass
class RunningAlertmanager:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    async def push(self, alerts: list[dict[str, Any]]) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.url}/api/v2/alerts", json=alerts) as response,
        ):
            assert response.status == 200, await response.text()

    async def silences(self) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/api/v2/silences") as r:
            data: list[dict[str, Any]] = await r.json()
            return data

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def alert(
    labels: dict[str, str], annotations: dict[str, str], *, resolved: bool = False
) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "generatorURL": "http://prometheus.test:9090/graph?g0.expr=up",
        "startsAt": (now - timedelta(minutes=3)).isoformat(),
    }
    if resolved:
        body["endsAt"] = (now - timedelta(seconds=1)).isoformat()
    return body


@asynccontextmanager
async def alertmanager(
    webhook_url: str, token: str, workdir: Path, *, config_template: str = CONFIG
) -> AsyncIterator[RunningAlertmanager]:
    """`config_template` is formatted with the bot's `url` and `token`."""
    binary = alertmanager_binary()
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(config_template.format(url=webhook_url, token=token))
    log_path = workdir / "alertmanager.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={workdir / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                f"--web.external-url=http://127.0.0.1:{port}",
                "--log.level=debug",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = RunningAlertmanager(f"http://127.0.0.1:{port}", process, log_path)
    try:
        await _wait_ready(running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def _wait_ready(am: RunningAlertmanager, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as http:
        while asyncio.get_running_loop().time() < deadline:
            if am.process.poll() is not None:
                raise AssertionError(f"Alertmanager exited:\n{am.log()}")
            try:
                async with http.get(f"{am.url}/-/ready") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"Alertmanager did not become ready:\n{am.log()}")

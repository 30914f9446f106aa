"""A real Prometheus (Debian's package) on loopback, scraping an exporter the test controls.

The exporter serves whatever text the test sets, in Prometheus's exposition format;
Prometheus scrapes it every second, so a test changes a value and sees it in PromQL a
scrape later. Nothing is mocked: the queries the bot sends are real PromQL, evaluated by
the real server.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.support.services import free_port, missing


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        missing("Prometheus", "install it with `apt-get install -y prometheus`")
        raise AssertionError("unreachable")
    return path


@dataclass
class Exporter:
    """`/metrics` on loopback; `text` is what the next scrape gets."""

    text: str = ""
    url: str = ""
    _runner: web.AppRunner | None = field(default=None, repr=False)

    def exposition(self) -> str:
        """What a scrape gets now (subclasses compute it at scrape time)."""
        return self.text

    async def start(self) -> None:
        async def metrics(_request: web.Request) -> web.Response:
            return web.Response(text=self.exposition(), content_type="text/plain", charset="utf-8")

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class RunningPrometheus:
    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    async def wait_for(self, expr: str, *, timeout: float = 30.0) -> None:
        """Until `expr` has a sample (e.g. the first scrape of a new value has happened)."""
        async with aiohttp.ClientSession() as http:
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                try:
                    async with http.get(
                        f"{self.url}/api/v1/query", params={"query": expr}
                    ) as response:
                        body = await response.json()
                    if body.get("data", {}).get("result"):
                        return
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"Prometheus never had a sample for {expr}")
                await asyncio.sleep(0.25)


@asynccontextmanager
async def prometheus_scraping(
    exporter: Exporter, tmp_path: Path, *, interval: str = "1s"
) -> AsyncIterator[RunningPrometheus]:
    binary = prometheus_binary()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {interval}\n"
        f"  evaluation_interval: {interval}\n"
        "scrape_configs:\n"
        "  - job_name: app\n"
        "    static_configs:\n"
        f"      - targets: ['{exporter.url}']\n"
    )
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    running = RunningPrometheus(f"http://127.0.0.1:{port}", process)
    try:
        await running.wait_for('up{job="app"} == 1')
        yield running
    finally:
        running.stop()
        log.close()

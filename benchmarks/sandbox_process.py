"""`chatops serve --sandbox` as a separate process, for the benchmarks to drive."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from intake import drop_postgres, free_port, postgres_url


@dataclass
class Sandbox:
    url: str
    emulator: str
    process: subprocess.Popen[bytes]
    token_file: Path

    @property
    def control_headers(self) -> dict[str, str]:
        """For the emulator's control endpoints (`/_emulator/...`): this run's token."""
        return {"Authorization": f"Bearer {self.token_file.read_text().strip()}"}


@asynccontextmanager
async def sandbox(database: str, workdir: Path) -> AsyncIterator[Sandbox]:
    """The bot on a fresh database (sqlite or postgres), message printing off."""
    pg_name = None
    if database == "postgres":
        database_url, pg_name = await postgres_url()
    else:
        database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    port, emulator_port = free_port(), free_port()
    prefixes = ("SLACK_", "CHATOPS_", "PAGERDUTY_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(DATABASE_URL=database_url, CHATOPS_SANDBOX_PRINT="0", CHATOPS_LOG_LEVEL="WARNING")
    env.update(CHATOPS_STATE_DIR=str(workdir / "state"))
    command = [sys.executable, "-m", "bot", "serve", "--sandbox", "--port", str(port)]
    with (workdir / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [*command, "--sandbox-port", str(emulator_port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = Sandbox(
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{emulator_port}",
        process,
        workdir / "state" / f"sandbox-{emulator_port}.token",
    )
    try:
        await wait_ready(running.url)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=60)
        if pg_name:
            await drop_postgres(pg_name)


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(400):
            try:
                async with http.get(f"{url}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit("the bot did not become ready")

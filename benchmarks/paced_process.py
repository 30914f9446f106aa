"""`chatops serve` in its own process, posting to a Slack emulator in this process whose
per-channel rate limit is on, with alert groups routed over many channels by a `shard`
label: what the intake benchmark drives now that every channel is paced at Slack's rate
from its first post."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from intake import drop_postgres, free_port, postgres_url
from sandbox_process import wait_ready

from bot.config import BUNDLED_EXAMPLE
from bot.sandbox.emulator import SlackEmulator, default_workspace

# The emulator's own credentials, known to both sides: not secrets.
BOT_TOKEN = "xoxb-benchmark"  # noqa: S105
SIGNING_SECRET = "benchmark-signing-secret"  # noqa: S105
WEBHOOK_TOKEN = "sandbox-token"  # noqa: S105 (what intake.TOKEN sends)


@dataclass
class PacedBot:
    url: str
    emulator: SlackEmulator
    process: subprocess.Popen[bytes]


def channel_config(workdir: Path, channels: int) -> Path:
    """The bundled example, with `shard: "N"` routed to channel N ahead of its routes."""
    data: dict[str, Any] = yaml.safe_load(BUNDLED_EXAMPLE.read_text())
    routes = [{"match": {"shard": str(i)}, "channel": channel_id(i)} for i in range(channels)]
    data["alerts"]["routes"] = routes + data["alerts"]["routes"]
    path = workdir / "chatops.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def channel_id(index: int) -> str:
    return f"CBENCH{index:04d}"


@asynccontextmanager
async def paced_bot(database: str, workdir: Path, channels: int) -> AsyncIterator[PacedBot]:
    emulator = SlackEmulator(token=BOT_TOKEN, signing_secret=SIGNING_SECRET)
    default_workspace(emulator)
    for index in range(channels):
        emulator.add_channel(channel_id(index), f"bench-{index}")
    emulator.rate_limit = True
    await emulator.start()
    pg_name = None
    if database == "postgres":
        database_url, pg_name = await postgres_url()
    else:
        database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "CHATOPS_", "ALERTMANAGER_", "PAGERDUTY_", "DATABASE_"))
    }
    env.update(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=emulator.base_url,
        ALERTMANAGER_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
        CHATOPS_CONFIG=str(channel_config(workdir, channels)),
        CHATOPS_LOG_LEVEL="WARNING",
    )
    port = free_port()
    with (workdir / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = PacedBot(f"http://127.0.0.1:{port}", emulator, process)
    try:
        await wait_ready(running.url)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=60)
        await emulator.stop()
        if pg_name:
            await drop_postgres(pg_name)

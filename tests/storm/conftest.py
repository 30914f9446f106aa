"""Bot replicas as real `chatops serve` processes on one PostgreSQL, and the emulator.

The emulator runs in the test process (so tests read what "Slack" holds); each replica is
a subprocess pointed at it, so `kill -9` is a real crash, not a cancelled task.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.config import BUNDLED_EXAMPLE
from bot.sandbox.driver import BotResponse
from bot.sandbox.emulator import Message, SlackEmulator, default_workspace
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_TOKEN
from tests.support.databases import fresh_database
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = [f"CSTORM{i:02d}" for i in range(20)]
P0_CHANNEL = "C0000INCID"
SUMMARY_ICONS = ("🌩", "🌤")


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("postgres", tmp_path) as url:
        yield url


@pytest.fixture
async def storm_emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(token=BOT_TOKEN, signing_secret=SIGNING_SECRET)
    default_workspace(emu)
    for channel in CHANNELS:
        emu.add_channel(channel, channel.lower())
    await emu.start()
    yield emu
    await emu.stop()


def storm_config(
    tmp_path: Path, *, threshold: int = 3, calm: str = "1s", p0_channel: str | None = None
) -> Path:
    """The bundled example with the 20 storm channels routed by `shard`; `p0_channel`
    posts P0s there instead of #incidents (a P0 inside the storm's channel)."""
    data: dict[str, Any] = yaml.safe_load(BUNDLED_EXAMPLE.read_text())
    routes = [{"match": {"shard": f"{i:02d}"}, "channel": c} for i, c in enumerate(CHANNELS)]
    data["alerts"]["routes"] = routes + data["alerts"]["routes"]
    data["alerts"]["storm_threshold"] = threshold
    data["alerts"]["storm_calm"] = calm
    if p0_channel is not None:
        data["alerts"]["escalation"]["P0"]["channel"] = p0_channel
    path = tmp_path / "chatops.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class Replica:
    def __init__(self, process: subprocess.Popen[str], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    def kill(self) -> None:
        """`kill -9`: no shutdown code runs."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


StartReplica = Callable[..., Awaitable[Replica]]


@pytest.fixture
async def start_replica(
    tmp_path: Path, storm_emulator: SlackEmulator
) -> AsyncIterator[StartReplica]:
    started: list[Replica] = []

    async def start(database_url: str, config: Path, name: str = "a") -> Replica:
        port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "ALERTMANAGER_", "PAGERDUTY_", "CHATOPS_", "DATABASE_"))
        }
        env.update(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=storm_emulator.base_url,
            ALERTMANAGER_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
            CHATOPS_CONFIG=str(config),
            PYTHONUNBUFFERED="1",
        )
        log = tmp_path / f"replica-{name}-{len(started)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--port", str(port)],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        replica = Replica(process, f"http://127.0.0.1:{port}", log)
        started.append(replica)
        await wait_ready(replica)
        return replica

    yield start
    for replica in started:
        replica.stop()


async def two_replicas(
    start_replica: StartReplica, database_url: str, tmp_path: Path
) -> tuple[Replica, Replica, Path]:
    """Two replicas on one database, with the bundled example config."""
    config = tmp_path / "chatops.yaml"
    config.write_text(BUNDLED_EXAMPLE.read_text())
    return (
        await start_replica(database_url, config, "a"),
        await start_replica(database_url, config, "b"),
        config,
    )


async def deploy_requested(
    emulator: SlackEmulator, replica: Replica, channel: str = "C0000DEPLY"
) -> tuple[BotResponse, Message]:
    """`/deploy api v1.4.0 production` sent to `replica`; its answer and the request posted."""
    emulator.bot_url = f"{replica.url}/slack/events"
    response = await emulator.send_command(
        "/deploy", "api v1.4.0 production", user="U0000DEP01", channel=channel
    )
    assert response.status == 200
    request = await emulator.wait_for(
        lambda: next((m for m in emulator.messages(channel) if m.blocks), None), timeout=15
    )
    return response, request


async def wait_ready(replica: Replica) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):  # 30 s: a loaded machine migrates slowly
            if replica.process.poll() is not None:
                raise AssertionError(f"serve exited:\n{replica.log.read_text()}")
            try:
                async with http.get(f"{replica.url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"serve never became ready:\n{replica.log.read_text()}")


def group_notification(
    index: int, *, alerts: int, severity: str = "warning", shard: str | None = None
) -> dict[str, Any]:
    name = f"Storm{index:03d}"
    labels = {"alertname": name, "severity": severity, "service": "api"}
    if shard is not None:
        labels["shard"] = shard
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "chatops",
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {**labels, "instance": f"node-{n}:9100"},
                "annotations": {"summary": f"{name} on node {n}"},
                "startsAt": "2026-01-01T11:50:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": f"{index:08x}{n:08x}",
            }
            for n in range(alerts)
        ],
    }


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> float:
    """POST a notification; returns the time it was answered 2xx (time.monotonic)."""
    for _ in range(50):
        try:
            async with http.post(
                f"{url}/webhooks/alertmanager",
                data=json.dumps(body),
                headers={
                    "Authorization": f"Bearer {WEBHOOK_TOKEN}",
                    "Content-Type": "application/json",
                },
            ) as response:
                if response.status == 200:
                    return time.monotonic()
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)  # as Alertmanager does: retry until answered 2xx
    raise AssertionError("the notification was never accepted")


def own_posts(emulator: SlackEmulator, name: str) -> list[Message]:
    """Top-level messages of a group's own (not storm summaries), in every channel."""
    found = []
    for channel in [*CHANNELS, P0_CHANNEL, "C0000ALERT"]:
        for message in emulator.messages(channel):
            if message.text.startswith(SUMMARY_ICONS):
                continue
            if name in message.text:
                found.append(message)
    return found


def summaries(emulator: SlackEmulator) -> list[Message]:
    return [
        m
        for channel in CHANNELS
        for m in emulator.messages(channel)
        if m.text.startswith(SUMMARY_ICONS)
    ]


async def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


StartReplicaWithEnv = Callable[..., Awaitable[Replica]]


@pytest.fixture
async def start_replica_with_env(
    tmp_path: Path, storm_emulator: SlackEmulator
) -> AsyncIterator[StartReplicaWithEnv]:
    """Like `start_replica`, plus `extra_env` for the child (e.g. PAGERDUTY_* pointing at
    the PagerDuty test server), which `start_replica` strips from the inherited env."""
    started: list[Replica] = []

    async def start(
        database_url: str, config: Path, name: str = "a", extra_env: dict[str, str] | None = None
    ) -> Replica:
        port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "ALERTMANAGER_", "PAGERDUTY_", "CHATOPS_", "DATABASE_"))
        }
        env.update(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=storm_emulator.base_url,
            ALERTMANAGER_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
            CHATOPS_CONFIG=str(config),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env or {})
        log = tmp_path / f"replica-{name}-{len(started)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--port", str(port)],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        replica = Replica(process, f"http://127.0.0.1:{port}", log)
        started.append(replica)
        await wait_ready(replica)
        return replica

    yield start
    for replica in started:
        replica.stop()


async def timer_leader_gauge(http: aiohttp.ClientSession, replica: Replica) -> float | None:
    """The replica's `chatops_timer_leader` gauge from /metrics; None if it does not answer."""
    try:
        async with http.get(f"{replica.url}/metrics") as response:
            if response.status != 200:
                return None
            body = await response.text()
    except aiohttp.ClientError:
        return None
    for line in body.splitlines():
        if line.startswith("chatops_timer_leader "):
            return float(line.split()[1])
    return None


def block_texts(blocks: list[Any]) -> str:
    """Every text of a message's blocks, joined (what a reader of the message sees)."""
    found: list[str] = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            found.append(str(text.get("text", "")))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and element.get("type") in ("mrkdwn", "plain_text"):
                found.append(str(element.get("text", "")))
    return "\n".join(found)


def named_in_summaries(emulator: SlackEmulator) -> str:
    """What the storm summaries say now (their latest version)."""
    return "\n".join(block_texts(m.blocks) for m in summaries(emulator))

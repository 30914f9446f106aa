"""Fixtures for the runbook flow: a bot with runbooks and a Kubernetes API test server,
and helpers to fire an alert and click through its checklist with signed requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Config
from bot.runbooks.config import KubernetesConnection, RunbooksConfig
from bot.sandbox.emulator import SlackEmulator
from bot.sandbox.store import Message
from tests.conftest import WEBHOOK_TOKEN, RunningService
from tests.servers.kube_api import KubeApiServer
from tests.support.payloads import notification

CHANNEL = "C0000ALERT"

DISK_RUNBOOK = """---
id: DISK
title: Disk almost full
applies_to:
  - alertname="DiskFull"
steps:
  - id: check-pods
    title: Check the pods
    detail: See which pods of the workload run and whether they restart.
    action:
      type: k8s.pods
      params: {namespace: "{{ labels.namespace }}", workload: "{{ labels.deployment }}"}
  - id: clean-up
    title: Clean up old files
    detail: Remove what is not needed any more.
  - id: scale-out
    title: Scale out
    detail: Spread the load over more replicas.
    action:
      type: k8s.scale
      params: {namespace: "{{ labels.namespace }}", deployment: "{{ labels.deployment }}", replicas: 5}
---

# Disk almost full

For the tests of the runbook flow.
"""

LABELS = {"namespace": "prod", "deployment": "api-blue"}


@pytest.fixture
async def kube() -> AsyncIterator[KubeApiServer]:
    server = KubeApiServer()
    await server.start()
    server.add_deployment("prod", "api-blue", "reg/api:v1", labels={"app": "api"})
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def runbook_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "DISK.md").write_text(DISK_RUNBOOK)
    return folder


def with_runbooks(
    config: Config, kube: KubeApiServer, directory: Path | None = None, scale_max: int = 20
) -> Config:
    section = RunbooksConfig(
        directory=str(directory) if directory else None,
        scale_max=scale_max,
        kubernetes=KubernetesConnection(host=kube.url),
        targets={"prod": ["api-blue"]},  # what the tests' alert labels name
    )
    return config.model_copy(update={"runbooks": section})


async def fire(
    bot: RunningService,
    emulator: SlackEmulator,
    *,
    group_key: str = '{}:{alertname="DiskFull"}',
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> Message:
    """Post one alert through the webhook; the alert's message in Slack."""
    body = notification(group_key, labels={**LABELS, **(labels or {})}, annotations=annotations)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{bot.url}/webhooks/alertmanager",
            json=body,
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        ) as response,
    ):
        assert response.status == 200
    await bot.settle()
    return emulator.messages(CHANNEL)[-1]


async def until(bot: RunningService, check: Callable[[], Any], *, timeout: float = 5.0) -> Any:
    """Settle until `check()` is truthy: listeners finish their work after the ack."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await bot.settle()
        result = check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the bot")
        await asyncio.sleep(0.02)


def ephemerals(emulator: SlackEmulator, user: str) -> list[str]:
    """What the bot told `user` alone, oldest first."""
    return [e.text for e in emulator.ephemerals if e.ephemeral_user == user]


def text_of(message: Message) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


def checklist_of(emulator: SlackEmulator, alert: Message) -> Message | None:
    return next(
        (r for r in emulator.replies(CHANNEL, alert.ts) if "runbook-progress" in text_of(r)),
        None,
    )


def step_value(checklist: Message, step_id: str) -> str:
    for block in checklist.blocks:
        if block.get("block_id") == f"runbook-actions-{step_id}":
            return str(block["elements"][0]["value"])
    raise AssertionError(f"no buttons for step {step_id}")


def progress(checklist: Message) -> str:
    block = next(b for b in checklist.blocks if b.get("block_id") == "runbook-progress")
    return str(block["text"]["text"])


async def open_checklist(
    bot: RunningService, emulator: SlackEmulator, alert: Message, user: str = "U0000ONC01"
) -> Message:
    await emulator.send_block_action(
        user=user,
        action_id="runbook.open",
        value=_group_value(alert),
        channel=CHANNEL,
        message_ts=alert.ts,
    )
    found: Message = await until(bot, lambda: checklist_of(emulator, alert))
    return found


def _group_value(alert: Message) -> str:
    for block in alert.blocks:
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("action_id") == "runbook.open":
                return str(element["value"])
    raise AssertionError("the alert message has no Runbook button")


async def click(
    emulator: SlackEmulator,
    checklist: Message,
    action: str,
    value: str,
    user: str = "U0000ONC01",
) -> None:
    response = await emulator.send_block_action(
        user=user,
        action_id=f"runbook.step.{action}",
        value=value,
        channel=CHANNEL,
        message_ts=checklist.ts,
        block_id="runbook-actions-x",
    )
    assert response.status == 200

"""The runbook step `alertmanager.silence` silences what Silence 1h would: the labels all of
the group's alerts share (with their alertname), never the sender's groupLabels alone. One
broader than the group runs only when the approver saw that and confirmed it. Checked
against Debian's real Alertmanager holding real alerts the group does not contain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SystemClock
from bot.config import Config
from bot.runbooks.config import RunbooksConfig
from bot.sandbox.emulator import Message, SlackEmulator
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService
from tests.e2e.test_silence_scope import active_silences, forged, setup, unsilenced
from tests.support.alertmanager import RunningAlertmanager, alert, alertmanager

CHANNEL = "C0000INCID"  # critical alerts are P0s, posted in the incident channel
REQUESTER = "U0000ONC01"
APPROVER = "U0000APR01"
SILENCE_RUNBOOK = """---
id: SILENCE
title: Silence it
applies_to:
  - alertname="Nothing"
steps:
  - id: quiet
    title: Silence the alerts for an hour
    detail: d
    action:
      type: alertmanager.silence
      params: {duration: 1h}
  - id: look
    title: Look at what fired
    detail: d
  - id: tell
    title: Tell the team
    detail: d
---

# Silence it
"""


@pytest.fixture
async def world(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    tmp_path: Path,
) -> AsyncIterator[tuple[RunningService, RunningAlertmanager]]:
    """A bot with the SILENCE runbook, and a real Alertmanager holding ApiDown and DiskFull
    (both posted by the bot) that the bot silences through."""
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "SILENCE.md").write_text(SILENCE_RUNBOOK)
    section = RunbooksConfig(directory=str(folder))
    config = example_config.model_copy(update={"runbooks": section})
    bot = await start_service(sqlite_url, config=config, clock=SystemClock(), run_workers=True)
    async with alertmanager(f"{bot.url}/webhooks/alertmanager", WEBHOOK_TOKEN, tmp_path) as am:
        await setup(bot, emulator, am)
        yield bot, am


def linked(labels: dict[str, str], key: str, fingerprint: str) -> dict[str, Any]:
    """A forged group with groupLabels {severity: critical}, linked to SILENCE."""
    body = forged({"severity": "critical"}, labels, key)
    body["commonAnnotations"]["runbook"] = "SILENCE"
    body["alerts"][0]["annotations"]["runbook"] = "SILENCE"
    body["alerts"][0]["fingerprint"] = fingerprint
    return body


def button_value(message: Message, action_id: str) -> str:
    for block in message.blocks:
        for element in block.get("elements", []):
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button")


def step_value(checklist: Message) -> str:
    block = next(b for b in checklist.blocks if b.get("block_id") == "runbook-actions-quiet")
    return str(block["elements"][0]["value"])


async def request_silence(
    bot: RunningService, emulator: SlackEmulator, body: dict[str, Any], name: str
) -> tuple[Message, Message]:
    """Deliver `body`, open its checklist and click Run: (alert message, approval request)."""
    await bot.deliver(body)
    alert_message = await emulator.wait_for(
        lambda: next((m for m in emulator.messages(CHANNEL) if name in m.text), None), timeout=10
    )
    await emulator.send_block_action(
        user=REQUESTER,
        action_id="runbook.open",
        value=button_value(alert_message, "runbook.open"),
        channel=CHANNEL,
        message_ts=alert_message.ts,
    )
    await click_run(emulator, alert_message)
    request = await emulator.wait_for(
        lambda: in_thread(emulator, alert_message, "needs approval to run")
    )
    return alert_message, request


async def click_run(emulator: SlackEmulator, alert_message: Message) -> None:
    """REQUESTER clicks Run on the silence step of the checklist in the alert's thread."""
    checklist = await emulator.wait_for(
        lambda: in_thread(emulator, alert_message, "runbook-progress")
    )
    await emulator.send_block_action(
        user=REQUESTER,
        action_id="runbook.step.run",
        value=step_value(checklist),
        channel=CHANNEL,
        message_ts=checklist.ts,
        block_id="runbook-actions-quiet",
    )


def in_thread(emulator: SlackEmulator, parent: Message, text: str) -> Message | None:
    """The newest reply under `parent` whose fallback text (or blocks) holds `text`."""
    for reply in reversed(emulator.replies(CHANNEL, parent.ts)):
        if text in reply.text or text in str(reply.blocks):
            return reply
    return None


async def approve(bot: RunningService, emulator: SlackEmulator, request: Message) -> None:
    response = await emulator.send_reaction(
        user=APPROVER, reaction="white_check_mark", channel=CHANNEL, ts=request.ts
    )
    assert response.status == 200
    await bot.service.operations.settle()


async def test_the_silence_step_matches_the_groups_alerts_not_its_group_labels(
    world: tuple[RunningService, RunningAlertmanager], emulator: SlackEmulator
) -> None:
    bot, am = world
    labels = {"alertname": "Forged", "severity": "critical"}
    alert_message, request = await request_silence(
        bot, emulator, linked(labels, "f1", "f1f1f1f1f1f1f1f1"), "Forged"
    )
    shown = str(request.blocks)
    assert 'alertname="Forged"' in shown and 'severity="critical"' in shown
    assert "broader" not in shown
    assert await active_silences(am) == []

    await approve(bot, emulator, request)
    await emulator.wait_for(lambda: in_thread(emulator, alert_message, "Silenced"), timeout=10)
    [made] = await active_silences(am)
    assert {m["name"]: m["value"] for m in made["matchers"]} == labels
    assert await unsilenced(am) == {"ApiDown", "DiskFull"}


async def test_a_broader_silence_runs_only_when_the_approver_saw_it(
    world: tuple[RunningService, RunningAlertmanager], emulator: SlackEmulator
) -> None:
    bot, am = world
    # Nothing else in Alertmanager matches when the approval is asked for...
    labels = {"alertname": "Late", "severity": "critical"}
    late, request = await request_silence(
        bot, emulator, linked(labels, "f2", "f2f2f2f2f2f2f2f2"), "Late"
    )
    assert "broader" not in str(request.blocks)
    # ...but a real alert with the same labels arrives before it is approved.
    await am.push([alert({**labels, "instance": "late-2"}, {"summary": "Late"})])
    await approve(bot, emulator, request)
    refusal = await emulator.wait_for(lambda: in_thread(emulator, late, "not silenced"), timeout=10)
    assert "approval did not confirm" in refusal.text
    assert await active_silences(am) == []

    # Asked for again, the request says it is broader; the approver's reaction confirms it.
    await click_run(emulator, late)
    second = await emulator.wait_for(lambda: broader_request(emulator, late), timeout=10)
    assert "1 other alert" in str(second.blocks)
    await approve(bot, emulator, second)
    await emulator.wait_for(lambda: in_thread(emulator, late, "Silenced"), timeout=10)
    [made] = await active_silences(am)
    assert {m["name"]: m["value"] for m in made["matchers"]} == labels
    assert "Late" not in await unsilenced(am)
    assert {"ApiDown", "DiskFull"} <= await unsilenced(am)


def broader_request(emulator: SlackEmulator, parent: Message) -> Message | None:
    for reply in emulator.replies(CHANNEL, parent.ts):
        if "needs approval to run" in reply.text and "broader than this" in str(reply.blocks):
            return reply
    return None

"""End to end: Debian's real Alertmanager -> the bot -> the Slack emulator, and back.

An alert pushed into Alertmanager's API arrives in Slack; resolving it updates the same
message in place and replies in its thread; the Silence button creates a real silence.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.clock import SystemClock
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import WEBHOOK_TOKEN, StartService
from tests.support.alertmanager import alert, alertmanager

LABELS = {
    "alertname": "SSEConnectionDrops",
    "service": "api",
    "namespace": "sergas",
    "severity": "error",
    "instance": "api-blue-1:8000",
}
ANNOTATIONS = {
    "summary": "SSE connections dropping",
    "description": "12% of SSE streams closed early.",
}


async def test_alert_fires_resolves_and_is_silenced_through_real_alertmanager(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    bot = await start_service(sqlite_url, clock=SystemClock(), run_workers=True)
    webhook = f"{bot.url}/webhooks/alertmanager"
    async with alertmanager(webhook, WEBHOOK_TOKEN, tmp_path) as am:
        bot.service.settings.alertmanager_url = am.url  # type: ignore[misc]
        from actions.alertmanager import AlertmanagerClient

        assert bot.service.http is not None
        bot.service.alertmanager = AlertmanagerClient(bot.service.http, am.url)

        await am.push([alert(LABELS, ANNOTATIONS)])
        message = await emulator.wait_for(
            lambda: next(iter(emulator.messages("C0000ALERT")), None), timeout=20
        )
        blocks = json.dumps(message.blocks)
        assert "SSEConnectionDrops" in blocks and "P1" in blocks
        assert "SSE connections dropping" in blocks
        assert am.url in blocks  # the silence link points at this Alertmanager

        # The captured payload is Alertmanager 0.25's own: keep it as a parsing fixture.
        [delivery] = [
            c for c in emulator.calls("chat.postMessage") if c.args.get("channel") == "C0000ALERT"
        ]
        assert delivery.response["ok"] is True

        await emulator.send_block_action(
            user="U0000ONC01",
            action_id="alert.silence",
            value=_group_value(message.blocks, "alert.silence"),
            channel="C0000ALERT",
            message_ts=message.ts,
        )
        reply = await emulator.wait_for(
            lambda: next(
                (r for r in emulator.replies("C0000ALERT", message.ts) if "silenced" in r.text),
                None,
            ),
            timeout=10,
        )
        silences = [s for s in await am.silences() if s["status"]["state"] == "active"]
        assert len(silences) == 1
        matchers = {m["name"]: m["value"] for m in silences[0]["matchers"]}
        # The labels the group's alerts share (here: its one alert's), not groupLabels.
        assert matchers == LABELS
        assert silences[0]["id"] in reply.text

        # A silenced alert's resolution is muted by Alertmanager; lift the silence first.
        await bot.service.alertmanager.expire_silence(silences[0]["id"])
        await am.push([alert(LABELS, ANNOTATIONS, resolved=True)])
        await emulator.wait_for(
            lambda: any(
                "Resolved after" in r.text for r in emulator.replies("C0000ALERT", message.ts)
            ),
            timeout=20,
        )
        updated = emulator.message("C0000ALERT", message.ts)
        assert updated is not None and "RESOLVED" in json.dumps(updated.blocks)
        assert len(emulator.messages("C0000ALERT")) == 1


def _group_value(blocks: list[dict], action_id: str) -> str:
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return str(element["value"])
    raise AssertionError(f"no {action_id} button")

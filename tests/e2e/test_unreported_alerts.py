"""Alertmanager leaves silenced and inhibited alerts out of a group's later notifications:
against Debian's real Alertmanager, an alert silenced there is shown as no longer
reported, not firing, and Silence 1h then silences only the alerts still reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from actions.alertmanager import AlertmanagerClient
from bot.clock import SystemClock
from bot.sandbox.emulator import Message, SlackEmulator
from tests.conftest import WEBHOOK_TOKEN, StartService
from tests.support.alertmanager import CONFIG, RunningAlertmanager, alert, alertmanager

# Repeat notifications every 2 s, so the one that leaves the silenced alert out comes soon.
REPEATING = CONFIG.replace("repeat_interval: 1h", "repeat_interval: 2s")
INSTANCES = ("web-1", "web-2", "web-3")
CHANNEL = "C0000ALERT"


def group_alerts() -> list[dict[str, Any]]:
    return [
        alert(
            {"alertname": "HighLatency", "service": "web", "severity": "warning", "instance": i},
            {"summary": "latency is high"},
        )
        for i in INSTANCES
    ]


async def silence_in_alertmanager(am: RunningAlertmanager, instance: str) -> str:
    now = datetime.now(UTC)
    body = {
        "matchers": [
            {"name": "alertname", "value": "HighLatency", "isRegex": False},
            {"name": "instance", "value": instance, "isRegex": False},
        ],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "someone",
        "comment": "maintenance",
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{am.url}/api/v2/silences", json=body) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["silenceID"])


async def silenced_by(am: RunningAlertmanager) -> dict[str, set[str]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{am.url}/api/v2/alerts", params={"filter": 'alertname="HighLatency"'}) as r,
    ):
        return {a["labels"]["instance"]: set(a["status"]["silencedBy"]) for a in await r.json()}


def shown(message: Message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


async def test_an_alert_silenced_in_alertmanager_is_shown_as_no_longer_reported(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    bot = await start_service(sqlite_url, clock=SystemClock(), run_workers=True)
    assert bot.service.http is not None
    hook = f"{bot.url}/webhooks/alertmanager"
    async with alertmanager(hook, WEBHOOK_TOKEN, tmp_path, config_template=REPEATING) as am:
        bot.service.alertmanager = AlertmanagerClient(bot.service.http, am.url)
        await am.push(group_alerts())

        def message(text: str) -> Message | None:
            found = [m for m in emulator.messages(CHANNEL) if "HighLatency" in m.text]
            return found[0] if found and text in shown(found[0]) else None

        await emulator.wait_for(lambda: message("3 firing / 3"), timeout=20)
        first = await silence_in_alertmanager(am, "web-1")
        # Alertmanager's next notification of the group reports web-2 and web-3 only.
        updated = await emulator.wait_for(lambda: message("2 firing / 3"), timeout=20)
        text = shown(updated)
        assert "1 no longer reported" in text
        assert "web-1" in text and "no longer reported" in text.split("web-1", 1)[1]

        button = next(
            e["value"]
            for b in updated.blocks
            for e in b.get("elements", [])
            if e.get("action_id") == "alert.silence"
        )
        await emulator.send_block_action(
            user="U0000ONC01",
            action_id="alert.silence",
            value=button,
            channel=CHANNEL,
            message_ts=updated.ts,
        )
        await emulator.wait_for(
            lambda: (
                any("silenced this group" in r.text for r in emulator.replies(CHANNEL, updated.ts))
                or None
            ),
            timeout=10,
        )
        made = [s["id"] for s in await am.silences() if s["createdBy"] == "slack:U0000ONC01"]
        assert len(made) == 1
        states = await silenced_by(am)
        assert made[0] in states["web-2"] and made[0] in states["web-3"]
        assert states["web-1"] == {first}  # the bot's silence does not reach it

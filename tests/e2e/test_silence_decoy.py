"""A decoy alert pushed to Alertmanager's API cannot pre-silence the next real alert.

The attack: push an alert carrying only `alertname` and `severity`, let anyone click
Silence 1h on it (nothing else matches, so no approver is needed), and the silence on
those two labels matches the next real `KubePodCrashLooping` with all its labels for an
hour. Against Debian's real Alertmanager: the bot's silence names the alerts it was made
for, and once it silences another alert it is expired and the thread says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from actions.alertmanager import AlertmanagerClient
from bot.clock import SystemClock
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import WEBHOOK_TOKEN, StartService
from tests.e2e.test_silence_scope import active_silences, click_silence, silenced_reply
from tests.support.alertmanager import RunningAlertmanager, alert, alertmanager

DECOY = {"alertname": "KubePodCrashLooping", "severity": "critical"}
REAL = {
    **DECOY,
    "namespace": "payments",
    "pod": "checkout-7d9f8b-x2x9q",
    "container": "checkout",
    "job": "kube-state-metrics",
}


async def am_alerts(am: RunningAlertmanager) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{am.url}/api/v2/alerts") as response,
    ):
        data: list[dict[str, Any]] = await response.json()
        return data


async def real_alert(am: RunningAlertmanager) -> dict[str, Any] | None:
    return next((a for a in await am_alerts(am) if a["labels"].get("pod") == REAL["pod"]), None)


async def test_a_silence_made_on_a_decoy_does_not_silence_the_next_real_alert(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    bot = await start_service(sqlite_url, clock=SystemClock(), run_workers=True)
    for task in bot.service._tasks:  # the check runs when the test says, not every 5 s
        if task.get_name() == "silences":
            task.cancel()
    async with alertmanager(f"{bot.url}/webhooks/alertmanager", WEBHOOK_TOKEN, tmp_path) as am:
        assert bot.service.http is not None
        bot.service.alertmanager = AlertmanagerClient(bot.service.http, am.url)
        await am.push([alert(DECOY, {"summary": "decoy"})])
        message = await emulator.wait_for(
            lambda: next((m for m in emulator.messages("C0000INCID") if "decoy" in m.text), None),
            timeout=20,
        )
        await click_silence(emulator, message, "U0000ONC01")  # an on-call, not an approver
        await silenced_reply(emulator, message)
        [silence] = await active_silences(am)

        await am.push([alert(REAL, {"summary": "checkout pods crash-looping"})])
        arrived = await real_alert(am)
        assert arrived is not None
        assert arrived["status"]["silencedBy"] == [silence["id"]]  # the attack, as measured
        await bot.service.silence_watch.check()

        after = await real_alert(am)
        assert after is not None
        assert after["status"]["silencedBy"] == []
        assert after["status"]["state"] == "active"
        assert await active_silences(am) == []
        note = await emulator.wait_for(
            lambda: next(
                (
                    r
                    for r in emulator.replies("C0000INCID", message.ts)
                    if silence["id"] in r.text and "expired" in r.text
                ),
                None,
            ),
            timeout=10,
        )
        assert "`KubePodCrashLooping`" in note.text

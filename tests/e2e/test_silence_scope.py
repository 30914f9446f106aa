"""Silence 1h silences the group's alerts, whatever the sender put in groupLabels: checked
against Debian's real Alertmanager holding real alerts the group does not contain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from bot.clock import SystemClock
from bot.sandbox.emulator import Message, SlackEmulator
from bot.storage.models import AuditEvent
from tests.conftest import WEBHOOK_TOKEN, RunningService, StartService
from tests.support.alertmanager import RunningAlertmanager, alert, alertmanager

REAL = [
    {"alertname": "ApiDown", "service": "api", "severity": "critical", "instance": "api-1"},
    {"alertname": "DiskFull", "service": "db", "severity": "critical", "instance": "db-1"},
]


def forged(group_labels: dict[str, str], labels: dict[str, str], key: str) -> dict[str, Any]:
    """A notification sent straight to the bot by whoever can reach its webhook."""
    return {
        "version": "4",
        "groupKey": key,
        "status": "firing",
        "receiver": "chatops",
        "groupLabels": group_labels,
        "commonLabels": labels,
        "commonAnnotations": {"summary": "forged"},
        "externalURL": "http://alertmanager.test:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "forged"},
                "startsAt": "2026-01-01T11:50:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.test/graph",
                "fingerprint": "f0f0f0f0f0f0f0f0",
            }
        ],
    }


async def unsilenced(am: RunningAlertmanager) -> set[str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{am.url}/api/v2/alerts", params={"silenced": "false"}) as response,
    ):
        return {a["labels"]["alertname"] for a in await response.json()}


async def click_silence(emulator: SlackEmulator, message: Message, user: str) -> None:
    value = next(
        e["value"]
        for b in message.blocks
        for e in b.get("elements", [])
        if e.get("action_id") == "alert.silence"
    )
    await emulator.send_block_action(
        user=user,
        action_id="alert.silence",
        value=value,
        channel=message.channel,
        message_ts=message.ts,
    )


async def setup(bot: RunningService, emulator: SlackEmulator, am: RunningAlertmanager) -> None:
    from actions.alertmanager import AlertmanagerClient

    assert bot.service.http is not None
    bot.service.alertmanager = AlertmanagerClient(bot.service.http, am.url)
    await am.push([alert(labels, {"summary": labels["alertname"]}) for labels in REAL])
    await emulator.wait_for(
        lambda: (
            len([m for m in emulator.messages("C0000INCID") if "forged" not in m.text]) >= 2 or None
        ),
        timeout=20,
    )


def posted(emulator: SlackEmulator, name: str) -> Message:
    return next(m for m in emulator.messages("C0000INCID") if name in m.text)


async def forged_and_clicked(
    bot: RunningService,
    emulator: SlackEmulator,
    labels: dict[str, str],
    key: str,
    user: str = "U0000ONC01",
) -> Message:
    """A forged group with groupLabels {severity: critical} posted; `user` clicks Silence."""
    await bot.deliver(forged({"severity": "critical"}, labels, key))
    message = await emulator.wait_for(
        lambda: next((m for m in emulator.messages("C0000INCID") if "forged" in m.text), None),
        timeout=10,
    )
    await click_silence(emulator, message, user)
    return message


async def refused(emulator: SlackEmulator) -> Message:
    return await emulator.wait_for(
        lambda: next((e for e in emulator.ephemerals if "Not silenced" in e.text), None),
        timeout=10,
    )


async def silenced_reply(emulator: SlackEmulator, message: Message) -> None:
    await emulator.wait_for(
        lambda: (
            any("silenced" in r.text for r in emulator.replies("C0000INCID", message.ts)) or None
        ),
        timeout=10,
    )


async def active_silences(am: RunningAlertmanager) -> list[dict[str, Any]]:
    return [s for s in await am.silences() if s["status"]["state"] == "active"]


async def refusals(bot: RunningService) -> list[AuditEvent]:
    async with bot.service.sessions() as session:
        query = select(AuditEvent).where(AuditEvent.action == "alert.silence.refused")
        return list((await session.scalars(query)).all())


async def test_forged_group_labels_cannot_silence_every_critical_alert(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    bot = await start_service(sqlite_url, clock=SystemClock(), run_workers=True)
    async with alertmanager(f"{bot.url}/webhooks/alertmanager", WEBHOOK_TOKEN, tmp_path) as am:
        await setup(bot, emulator, am)
        labels = {"alertname": "Forged", "severity": "critical"}
        message = await forged_and_clicked(bot, emulator, labels, "f1")
        await silenced_reply(emulator, message)
        [made] = await active_silences(am)
        assert {m["name"]: m["value"] for m in made["matchers"]} == labels
        assert await unsilenced(am) == {"ApiDown", "DiskFull"}


async def test_a_silence_broader_than_the_group_needs_an_approver(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    bot = await start_service(sqlite_url, clock=SystemClock(), run_workers=True)
    async with alertmanager(f"{bot.url}/webhooks/alertmanager", WEBHOOK_TOKEN, tmp_path) as am:
        await setup(bot, emulator, am)
        # Its alerts share only labels that the real ApiDown alert carries too.
        broad = {"alertname": "ApiDown", "severity": "critical"}
        message = await forged_and_clicked(bot, emulator, broad, "f2")
        assert "1 other alert" in (await refused(emulator)).text
        assert await active_silences(am) == []
        assert [r.details["why"] for r in await refusals(bot)]
        assert await unsilenced(am) == {"ApiDown", "DiskFull"}

        # An approver's click is the confirmation: the silence is made, and audited so.
        await click_silence(emulator, message, "U0000APR01")
        await silenced_reply(emulator, message)
        assert await unsilenced(am) == {"DiskFull"}
        async with bot.service.sessions() as session:
            silenced = (
                await session.scalars(
                    select(AuditEvent).where(AuditEvent.action == "alert.silenced")
                )
            ).one()
        assert silenced.actor == "U0000APR01" and silenced.details["broader_than_group"]


async def test_a_group_without_a_shared_alertname_is_not_silenced_by_a_responder(
    sqlite_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    bot = await start_service(sqlite_url, clock=SystemClock(), run_workers=True)
    async with alertmanager(f"{bot.url}/webhooks/alertmanager", WEBHOOK_TOKEN, tmp_path) as am:
        await setup(bot, emulator, am)
        await forged_and_clicked(bot, emulator, {"severity": "critical"}, "f3")
        assert "no alertname" in (await refused(emulator)).text
        assert await active_silences(am) == []
        assert await unsilenced(am) == {"ApiDown", "DiskFull"}

"""Silence all 1h on a storm summary, against Debian's Alertmanager: one silence when the
folded groups share labels that name them, one per group otherwise, never reaching an
alert outside the groups, and each group silenced once however often it is clicked."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from actions.alertmanager import AlertmanagerClient
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import RunningService, StartService
from tests.storm.test_storm_actions import (
    audit,
    click,
    fold_into_summary,
    folded,
    storm_value,
)
from tests.support.alertmanager import RunningAlertmanager, alert, alertmanager

NODES = [f"node-{i}" for i in range(2, 7)]
NOWHERE = "http://127.0.0.1:9/"  # Alertmanager's own notifications go nowhere


def disk_full(node: str, *, device: str | None = None) -> dict[str, Any]:
    """A `DiskFull` group of one node (Alertmanager's group_by alertname, instance); with
    `device`, every alert of the group is on that device, so groups differ in two labels."""
    labels = {"alertname": "DiskFull", "service": "api", "severity": "warning", "instance": node}
    devices = [device] if device else ["sda", "sdb"]
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="DiskFull", instance="{node}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "chatops",
        "groupLabels": {"alertname": "DiskFull", "instance": node},
        "commonLabels": {**labels, **({"device": device} if device else {})},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {**labels, "device": d},
                "annotations": {"summary": f"{node} {d} is full"},
                "startsAt": "2026-01-01T11:50:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": f"{node}-{d}",
            }
            for d in devices
        ],
    }


@contextlib.asynccontextmanager
async def silencing(bot: RunningService, tmp_path: Path) -> AsyncIterator[RunningAlertmanager]:
    """Debian's Alertmanager, the bot's silences going there."""
    async with alertmanager(NOWHERE, "unused", tmp_path) as am:
        assert bot.service.http is not None
        bot.service.alertmanager = AlertmanagerClient(bot.service.http, am.url)
        yield am


async def alert_states(am_url: str) -> dict[str, str]:
    """Each DiskFull alert Alertmanager holds, by instance and device: active/suppressed."""
    async with aiohttp.ClientSession() as http, http.get(f"{am_url}/api/v2/alerts") as r:
        data: list[dict[str, Any]] = await r.json()
    return {
        f"{a['labels']['instance']}/{a['labels']['device']}": a["status"]["state"] for a in data
    }


def disk_alert(node: str, device: str) -> dict[str, Any]:
    labels = {"alertname": "DiskFull", "service": "api", "severity": "warning"}
    return alert({**labels, "instance": node, "device": device}, {})


async def test_groups_told_apart_by_one_label_get_one_silence_that_reaches_nothing_else(
    start_service: StartService,
    database_url: str,
    emulator: SlackEmulator,
    example_config: Config,
    tmp_path: Path,
) -> None:
    bodies = [disk_full(node) for node in NODES]
    bot, summary = await fold_into_summary(
        start_service, database_url, emulator, example_config, bodies
    )
    groups = await folded(bot)
    assert len(groups) == len(NODES)
    value = storm_value(summary, "storm.silence_all")
    async with silencing(bot, tmp_path) as am:
        await click(emulator, bot, summary, "storm.silence_all", value)
        [made] = await am.silences()
        matchers = {(x["name"], x["value"], x["isRegex"]) for x in made["matchers"]}
        assert ("alertname", "DiskFull", False) in matchers
        assert ("service", "api", False) in matchers
        [regex] = [x for x in made["matchers"] if x["isRegex"]]
        assert regex["name"] == "instance"
        # Clicked again: each group is already silenced, nothing more is made.
        await click(emulator, bot, summary, "storm.silence_all", value)
        assert len(await am.silences()) == 1

        # Every group's alerts are silenced; the same alert on another node is not.
        await am.push([disk_alert(n, d) for n in [*NODES, "node-99"] for d in ("sda", "sdb")])
        states = await alert_states(am.url)
        assert {k for k, v in states.items() if v == "suppressed"} == {
            f"{n}/{d}" for n in NODES for d in ("sda", "sdb")
        }
        assert states["node-99/sda"] == states["node-99/sdb"] == "active"

        silenced = await audit(bot, "alert.silenced")  # one event per group
        assert sorted(e.subject for e in silenced) == sorted(f"alert-group:{g.id}" for g in groups)
        assert {e.details["silence_id"] for e in silenced} == {made["id"]}


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_groups_differing_in_two_labels_get_one_silence_each(
    start_service: StartService,
    database_url: str,
    emulator: SlackEmulator,
    example_config: Config,
    tmp_path: Path,
) -> None:
    bodies = [disk_full(node, device=f"sd{i}") for i, node in enumerate(NODES)]
    bot, summary = await fold_into_summary(
        start_service, database_url, emulator, example_config, bodies
    )
    value = storm_value(summary, "storm.silence_all")
    async with silencing(bot, tmp_path) as am:
        await click(emulator, bot, summary, "storm.silence_all", value)
        made = await am.silences()
        assert len(made) == len(NODES)
        assert all(not x["isRegex"] for s in made for x in s["matchers"])
        assert len(await audit(bot, "alert.silenced")) == len(NODES)

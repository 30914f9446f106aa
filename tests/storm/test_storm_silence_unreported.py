"""Silence all 1h on a storm summary leaves out what Alertmanager no longer reports: a
folded group whose later notification left an alert out (silenced or inhibited there) is
silenced for the alerts still reported only, against Debian's Alertmanager."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import StartService
from tests.storm.test_storm_actions import audit, click, fold_into_summary, folded, storm_value
from tests.storm.test_storm_silence import alert_states, disk_alert, disk_full, silencing


def with_devices(node: str, devices: tuple[str, ...]) -> dict[str, Any]:
    body = disk_full(node)
    template = body["alerts"][0]
    body["alerts"] = [
        {
            **copy.deepcopy(template),
            "labels": {**template["labels"], "device": d},
            "fingerprint": f"{node}-{d}",
        }
        for d in devices
    ]
    return body


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
async def test_silence_all_leaves_out_alerts_alertmanager_no_longer_reports(
    start_service: StartService,
    database_url: str,
    emulator: SlackEmulator,
    example_config: Config,
    tmp_path: Path,
) -> None:
    bodies = [
        with_devices("node-2", ("sda", "sdb", "sdc")),
        with_devices("node-3", ("sda", "sdb")),
        with_devices("node-2", ("sda", "sdb")),  # sdc left out: silenced in Alertmanager
    ]
    bot, summary = await fold_into_summary(
        start_service, database_url, emulator, example_config, bodies
    )
    assert len(await folded(bot)) == 2
    async with silencing(bot, tmp_path) as am:
        await click(
            emulator, bot, summary, "storm.silence_all", storm_value(summary, "storm.silence_all")
        )
        await am.push(
            [disk_alert("node-2", d) for d in ("sda", "sdb", "sdc")]
            + [disk_alert("node-3", d) for d in ("sda", "sdb")]
        )
        states = await alert_states(am.url)
        assert {k for k, v in states.items() if v == "suppressed"} == {
            "node-2/sda",
            "node-2/sdb",
            "node-3/sda",
            "node-3/sdb",
        }
        assert states["node-2/sdc"] == "active"  # not the bot's to silence
        assert len(await audit(bot, "alert.silenced")) == 2

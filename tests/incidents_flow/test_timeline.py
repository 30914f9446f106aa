"""An incident's timeline and postmortem: its alert, the page, the acknowledgement, the
updates and the changes to its service, from the audit log, in order; the draft is
uploaded into the channel at resolve and printed by `chatops incidents export`."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.config import Config
from bot.incidents import cli
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import StartService, bolt_listeners_done
from tests.escalation.conftest import pagerduty_settings, pd_server  # noqa: F401 (fixture)
from tests.incidents_flow.conftest import (
    ONCALL,
    P0_CHANNEL,
    buttons,
    incident_command,
    p0,
    settle,
    summary,
    text_of,
    the_channel,
    with_incidents,
)
from tests.operations.conftest import Flow
from tests.operations.test_backends import approve, with_environment
from tests.servers.pagerduty import PagerDutyServer


async def test_resolve_uploads_a_postmortem_whose_timeline_has_the_alert_page_ack_update_and_rollback(
    sqlite_url: str,
    start_service: StartService,
    emulator: SlackEmulator,
    example_config: Config,
    pd_server: PagerDutyServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = with_environment(
        with_incidents(example_config, auto_declare=["P0"]),
        "production",
        {"backend": "dryrun", "approvals": 1, "bake": "0s", "steps": [100]},
    )
    bot = await start_service(sqlite_url, config=config, **pagerduty_settings(pd_server))
    flow = Flow(bot, emulator)
    # Released ten minutes before the alert: the hour before the incident shows it.
    assert "Succeeded" in flow.header(await approve(flow, "/deploy", "api v1.4.0"))
    assert "Succeeded" in flow.header(await approve(flow, "/shift", "100"))
    await bot.deliver(p0())
    await settle(bot)
    await bot.service.escalation.tick()  # a P0 pages at once
    await settle(bot)
    channel = the_channel(emulator)
    alert = next(m for m in emulator.messages(P0_CHANNEL) if "ApiDown" in text_of(m))
    await emulator.send_block_action(
        user=ONCALL,
        action_id="alert.ack",
        value=buttons(alert)["alert.ack"],
        channel=P0_CHANNEL,
        message_ts=alert.ts,
    )
    await bolt_listeners_done()
    await settle(bot)
    await incident_command(
        bot, emulator, "update error rate back to normal", user=ONCALL, channel=channel
    )
    rollback = await approve(flow, "/rollback", "api")
    assert "Succeeded" in flow.header(rollback), flow.header(rollback)
    await settle(bot)
    shown = text_of(summary(emulator, channel))
    assert "/rollback" in shown and "/deploy" in shown  # changes of its service, in the summary

    await incident_command(bot, emulator, "resolve rolled back", user=ONCALL, channel=channel)

    shared = [m for m in emulator.messages(channel) if m.files]
    assert len(shared) == 1 and "postmortem" in shared[0].text
    draft = (emulator.files.content(shared[0].files[0]["id"]) or b"").decode()
    timeline = draft.split("## Timeline", 1)[1].split("## Changes", 1)[0]
    order = [
        "Alert fired: ApiDown",
        "Paged PagerDuty",
        "Alert acknowledged",
        "Update: error rate back to normal",
        "Change requested: /rollback",
        "Resolved: rolled back",
    ]
    positions = [timeline.find(words) for words in order]
    assert -1 not in positions, (positions, timeline)
    assert positions == sorted(positions), timeline
    assert "U0000ONC01" in timeline  # who did it
    changes = draft.split("## Changes before and during", 1)[1].split("##", 1)[0]
    assert "/deploy" in changes and "/rollback" in changes

    # `chatops incidents export 1 --format json` and `chatops incidents list`, as they read.
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    data = json.loads(await cli._draft(1, as_json=True) or "{}")
    assert data["status"] == "resolved"
    actions = [e["action"] for e in data["timeline"]]
    assert actions[0] == "operation.requested" and actions[-1] == "incident.resolve"
    assert (await cli._draft(1, as_json=False) or "").startswith("# Postmortem draft: incident #1")
    listed = await cli._lines(datetime(2025, 1, 1, tzinfo=UTC))
    assert len(listed) == 1 and listed[0].startswith("#1  P0  Resolved")

"""A captured Slack request replayed to another `chatops serve` replica, or to the same
one after a restart, is refused: accepted signatures live in the shared database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.sandbox.emulator import SlackEmulator
from tests.storm.conftest import StartReplica, deploy_requested, two_replicas
from tests.storm.test_approval_replicas import query

CHANNEL = "C0000DEPLY"


def approval_requests(emulator: SlackEmulator) -> int:
    return len([m for m in emulator.messages(CHANNEL) if m.blocks])


async def test_a_captured_command_replayed_to_the_other_replica_or_after_a_restart_is_refused(
    pg_url: str, start_replica: StartReplica, storm_emulator: SlackEmulator, tmp_path: Path
) -> None:
    first, second, config = await two_replicas(start_replica, pg_url, tmp_path)
    emulator = storm_emulator
    original, _ = await deploy_requested(emulator, first, CHANNEL)

    # The same bytes and headers, within Slack's five minutes, to the other pod.
    emulator.bot_url = f"{second.url}/slack/events"
    to_other = await emulator.send_raw(
        original.sent_body, original.sent_headers, "application/x-www-form-urlencoded"
    )
    assert to_other.status == 401 and "replayed" in to_other.text

    # And to the first pod after it restarted (a new process, nothing in memory).
    first.stop()
    restarted = await start_replica(pg_url, config, "a2")
    emulator.bot_url = f"{restarted.url}/slack/events"
    after_restart = await emulator.send_raw(
        original.sent_body, original.sent_headers, "application/x-www-form-urlencoded"
    )
    assert after_restart.status == 401 and "replayed" in after_restart.text

    await asyncio.sleep(2)  # room for a second approval request to show itself, if any
    assert approval_requests(emulator) == 1
    requested = await query(
        pg_url, "SELECT count(*) FROM audit_log WHERE action = 'operation.requested'"
    )
    assert requested[0][0] == 1
    [receipts] = await query(pg_url, "SELECT count(*) FROM slack_request_receipts")
    assert receipts[0] >= 1

"""`chatops report` over what the bot itself recorded: alerts, an ack, a resolve, a deploy."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bot.audit import trail
from bot.clock import FakeClock
from bot.sandbox.emulator import SlackEmulator
from tests.conftest import WEBHOOK_TOKEN, StartService
from tests.e2e.test_cli_and_sandbox import env
from tests.operations.conftest import Flow
from tests.support.payloads import notification

MON = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def send(flow: Flow, body: dict[str, object]) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{flow.bot.url}/webhooks/alertmanager",
            json=body,
            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        ) as response,
    ):
        assert response.status == 200
    await flow.settle()


def report(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "report", *args],
        cwd=tmp_path,
        env=env(tmp_path, DATABASE_URL=database_url),
        capture_output=True,
        timeout=120,
        check=False,
    )


async def test_report_figures_come_from_what_the_bot_recorded(
    database_url: str, start_service: StartService, emulator: SlackEmulator, tmp_path: Path
) -> None:
    clock = FakeClock(MON)
    flow = Flow(await start_service(database_url, clock=clock), emulator)
    labels = {"alertname": "ApiDown", "priority": "P0", "service": "api"}
    key = '{}:{alertname="ApiDown"}'

    # A P0, acknowledged in Slack after 4 minutes, resolved 30 minutes after it was posted.
    await send(flow, notification(key, labels=labels))
    [message] = [m for m in emulator.messages("C0000INCID") if m.thread_ts in (None, m.ts)]
    clock.advance(timedelta(minutes=4))
    response = await emulator.send_block_action(
        user="U0000ONC01",
        action_id="alert.ack",
        value="1",
        channel="C0000INCID",
        message_ts=message.ts,
    )
    assert response.status == 200
    await flow.settle()
    clock.advance(timedelta(minutes=26))
    await send(flow, notification(key, labels=labels, status="resolved"))

    # A deploy the next day, approved 3 minutes after it was asked for.
    clock.advance(timedelta(days=1))
    await flow.command("/deploy", "api v1.4.0 production")
    ts = flow.latest().ts
    clock.advance(timedelta(minutes=1))
    await flow.react(ts, "U0000APR01")
    clock.advance(timedelta(minutes=2))
    await flow.react(ts, "U0000APR02")
    assert "Succeeded" in flow.header(ts)

    # The same figures, live on /metrics, counted as the events were committed.
    async with aiohttp.ClientSession() as http, http.get(f"{flow.bot.url}/metrics") as page:
        metrics = await page.text()
    for line in (
        'chatops_incidents_total{priority="P0"} 1.0',
        'chatops_time_to_acknowledge_seconds_sum{priority="P0"} 240.0',
        'chatops_time_to_acknowledge_seconds_count{priority="P0"} 1.0',
        'chatops_time_to_recover_seconds_sum{priority="P0"} 1800.0',
        'chatops_operations_finished_total{command="deploy",outcome="Succeeded"} 1.0',
        'chatops_approval_requests_total{outcome="approved"} 1.0',
        "chatops_approval_wait_seconds_sum 180.0",
    ):
        assert line in metrics, line

    since, until = MON.isoformat(), (MON + timedelta(days=7)).isoformat()
    result = report(database_url, tmp_path, "--since", since, "--until", until, "--format", "json")
    assert result.returncode == 0, result.stderr.decode()
    current = json.loads(result.stdout)["current"]
    assert current["incidents"] == {"P0": 1, "P1": 0, "P2": 0, "P3": 0}
    assert current["time_to_ack"]["P0"]["mean"] == 4 * 60
    assert current["time_to_recover"]["P0"]["mean"] == 30 * 60
    assert (current["deploys"], current["deploys_succeeded"]) == (1, 1)
    assert current["approvals_requested"] == 1 and current["approvals_approved"] == 1
    assert current["approval_wait"]["mean"] == 3 * 60
    assert current["rollback_rate"] == 0

    markdown = report(database_url, tmp_path, "--since", since, "--until", until)
    assert markdown.returncode == 0
    text = markdown.stdout.decode()
    assert "| P0 alert groups | 1" in text and "| MTTA P0 | 4m (n=1)" in text

    picture = report(database_url, tmp_path, "--since", since, "--until", until, "--format", "png")
    assert picture.returncode == 0, picture.stderr.decode()
    png = (tmp_path / "report.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and 20_000 < len(png) < 2_000_000


def test_report_refuses_a_since_it_cannot_read(tmp_path: Path) -> None:
    result = report(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", tmp_path, "--since", "last week")
    assert result.returncode == 2
    assert b"neither an ISO time nor a duration" in result.stderr


async def test_a_rolled_back_transaction_counts_nothing(
    sqlite_url: str, start_service: StartService
) -> None:
    bot = await start_service(sqlite_url)
    session = bot.service.sessions()
    async with session:
        trail.record(
            session,
            at=MON,
            actor="system",
            action="alert.opened",
            subject="alert-group:1",
            priority="P0",
        )
        await session.flush()
        await session.rollback()
    async with bot.service.sessions.begin() as committed:
        trail.record(
            committed,
            at=MON,
            actor="system",
            action="alert.opened",
            subject="alert-group:2",
            priority="P1",
        )
    text = bot.service.metrics.render().decode()
    assert 'chatops_incidents_total{priority="P1"} 1.0' in text
    assert 'chatops_incidents_total{priority="P0"}' not in text

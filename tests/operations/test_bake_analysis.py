"""Bake analysis against Debian's real Prometheus, scraping an exporter the test controls.

The bot's clock is a fake one started at real time: Prometheus evaluates queries at real
time, and the test waits one interval and moves the bot's clock by one interval before
each sweep, so each sweep is exactly one analysis run. Nothing is mocked: the bot sends real PromQL,
the server evaluates it on real scrapes.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from bot.storage.models import OutboxEntry
from commands.analysis_config import ERROR_RATIO
from tests.conftest import StartService
from tests.operations.conftest import APPROVERS, CHANNEL, Flow
from tests.support.prometheus import RunningPrometheus, prometheus_scraping
from tests.support.traffic import TrafficExporter

INTERVAL = 1.0
GREEN_ERROR_RATIO = (
    ERROR_RATIO.replace("{{ service }}", "api")
    .replace("{{ colour }}", "green")
    .replace("{{ window }}", "3s")
)


@dataclass
class Bake:
    flow: Flow
    exporter: TrafficExporter
    prometheus: RunningPrometheus

    async def run(self) -> None:
        """One interval passes (really, and on the bot's clock), then the sweep."""
        await asyncio.sleep(INTERVAL)
        # Exactly one interval on the bot's clock: it never runs ahead of Prometheus's.
        self.flow.bot.clock.advance(timedelta(seconds=INTERVAL))
        await self.flow.sweep()

    def analysis_lines(self, ts: str) -> list[str]:
        return [t for t in self.flow.thread(ts) if "Bake analysis" in t]


@pytest.fixture
async def traffic() -> AsyncIterator[TrafficExporter]:
    exporter = TrafficExporter()
    await exporter.start()
    yield exporter
    await exporter.stop()


def analysed(config: Config, *, bake: str, **analysis: Any) -> Config:
    data = config.model_dump(mode="json")
    production = data["deploy"]["services"]["api"]["environments"]["production"]
    production["bake"] = bake
    production["analysis"] = {"interval": "1s", "window": "3s", "failure_limit": 2, **analysis}
    return Config.model_validate(data)


@dataclass
class Setup:
    tmp_path: Path
    start_service: StartService
    sqlite_url: str
    emulator: SlackEmulator
    example_config: Config
    traffic: TrafficExporter

    @asynccontextmanager
    async def bake(self, duration: str) -> AsyncIterator[tuple[Bake, str]]:
        """Prometheus scraping the traffic, the bot, v1.4.0 deployed and `/shift 10` baking."""
        async with prometheus_scraping(self.traffic, self.tmp_path) as prometheus:
            await prometheus.wait_for(GREEN_ERROR_RATIO)  # two scrapes: rate() has a value
            bot = await self.start_service(
                self.sqlite_url,
                config=analysed(self.example_config, bake=duration),
                clock=FakeClock(datetime.now(UTC)),
                prometheus_url=prometheus.url,
            )
            flow = Flow(bot, self.emulator)
            await flow.request_and_approve("/deploy", "api v1.4.0 production")
            shift = await flow.request_and_approve("/shift", "10")
            assert "Running" in flow.header(shift)
            yield Bake(flow, self.traffic, prometheus), shift


@pytest.fixture
def setup(
    tmp_path: Path,
    start_service: StartService,
    sqlite_url: str,
    emulator: SlackEmulator,
    example_config: Config,
    traffic: TrafficExporter,
) -> Setup:
    return Setup(tmp_path, start_service, sqlite_url, emulator, example_config, traffic)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


async def test_a_healthy_bake_passes_with_each_checks_value_in_the_thread_and_a_chart(
    setup: Setup,
) -> None:
    emulator = setup.emulator
    async with setup.bake("4s") as (bake, shift):
        flow = bake.flow
        # Slack's upload flow answers 429 once: the outbox must wait Retry-After and retry.
        emulator.fail_next("files.getUploadURLExternal", status=429, retry_after=1)
        for _ in range(12):
            await bake.run()
            if "Succeeded" in flow.header(shift):
                break
        assert "Succeeded" in flow.header(shift)
        assert (await flow.dryrun_state())["weights"] == {"blue": 90, "green": 10}
        runs = bake.analysis_lines(shift)
        assert len(runs) == 4  # at 1, 2, 3 and 4 seconds of a 4-second bake
        for line in runs:
            assert "(green, api/production)" in line
            assert "✅ `error-ratio` 0.00% (max 0.50%)" in line
            assert "✅ `p95-latency`" in line and "ms (max 2.00 s)" in line
            assert "❌" not in line and "⚠️" not in line

        # The chart: queued through the outbox, refused once with 429, then sent.
        # After a 429 the channel is paced at Slack's rate (about one post a second).
        for _ in range(5):
            flow.bot.clock.advance(timedelta(seconds=1))
            await flow.settle()
        asks = emulator.calls("files.getUploadURLExternal")
        assert [c.status for c in asks] == [429, 200, 200]
        assert len([c for c in emulator.calls("files.completeUploadExternal") if c.ok]) == 2
        async with flow.bot.service.sessions() as session:
            uploads = (
                await session.scalars(select(OutboxEntry).where(OutboxEntry.op == "upload"))
            ).all()
        assert sorted(u.state for u in uploads) == ["sent", "sent"]
        assert sorted(u.attempts for u in uploads) == [1, 2]
        assert any(u.last_error == "ratelimited" for u in uploads)

        shared = [m for m in emulator.replies(CHANNEL, shift) if m.files]
        assert len(shared) == 2
        # The 429'd upload carries the comment; the outbox may send the other one first.
        assert any("📈 The bake of green at 10% in api/production" in m.text for m in shared)
        names = sorted(f["name"] for m in shared for f in m.files)
        assert names == [
            "bake-api-production-error-ratio.png",
            "bake-api-production-p95-latency.png",
        ]
        for message in shared:
            content = emulator.files.content(message.files[0]["id"])
            assert content is not None
            assert 5_000 < len(content) < 1_000_000
            width, height = png_size(content)
            assert 400 <= width <= 2000 and 200 <= height <= 1200


async def test_an_error_ratio_of_two_percent_mid_bake_rolls_back_within_two_intervals(
    setup: Setup,
) -> None:
    emulator, traffic = setup.emulator, setup.traffic
    async with setup.bake("1m") as (bake, shift):
        prometheus = bake.prometheus
        flow = bake.flow
        await bake.run()
        assert "✅ `error-ratio`" in bake.analysis_lines(shift)[-1]

        traffic.green.error_ratio = 0.02
        await prometheus.wait_for(f"({GREEN_ERROR_RATIO}) > 0.005")
        runs = 0
        while "Rolled back" not in flow.header(shift) and runs < 5:
            await bake.run()
            runs += 1
        assert "Rolled back" in flow.header(shift)
        assert runs <= 2
        assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}
        lines = bake.analysis_lines(shift)
        assert "❌ `error-ratio`" in lines[-1] and "(max 0.50%)" in lines[-1]
        assert "Failed runs: 2 of 2: the bake fails." in lines[-1]
        assert "bake analysis failed 2 time(s) (error-ratio" in flow.text(shift)

        await flow.settle()
        charts = [m for m in emulator.replies(CHANNEL, shift) if m.files]
        assert charts and "green at 10%" in charts[0].text


async def test_prometheus_stopped_mid_bake_counts_as_failure_after_the_limit(setup: Setup) -> None:
    async with setup.bake("1m") as (bake, shift):
        prometheus = bake.prometheus
        flow = bake.flow
        await bake.run()
        assert "✅ `error-ratio`" in bake.analysis_lines(shift)[-1]

        prometheus.stop()
        await bake.run()
        first = bake.analysis_lines(shift)[-1]
        assert "⚠️ `error-ratio` not checked: Prometheus unreachable" in first
        assert "Failed runs: 1 of 2 that end the bake." in first
        assert "Running" in flow.header(shift)  # one failed run is not the limit

        await bake.run()
        assert "Rolled back" in flow.header(shift)
        assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}
        assert "error-ratio could not be checked" in flow.text(shift)
        thread = flow.thread(shift)
        assert any(
            t.startswith("📈 No chart of `error-ratio`: Prometheus unreachable") for t in thread
        )


async def test_without_prometheus_url_runs_fail_and_propose_posts_a_one_click_rollback(
    database_url: str, start_service: StartService, emulator: SlackEmulator, example_config: Config
) -> None:
    config = analysed(example_config, bake="1m")
    data = config.model_dump(mode="json")
    data["deploy"]["services"]["api"]["environments"]["production"]["bake_policy"] = "propose"
    flow = Flow(await start_service(database_url, config=Config.model_validate(data)), emulator)
    await flow.request_and_approve("/deploy", "api v1.4.0 production")
    shift = await flow.request_and_approve("/shift", "10")
    for _ in range(2):
        flow.bot.clock.advance(timedelta(seconds=INTERVAL))
        await flow.sweep()
    runs = [t for t in flow.thread(shift) if "Bake analysis" in t]
    assert len(runs) == 2
    assert all("not checked: PROMETHEUS_URL is not set" in r for r in runs)
    assert "Failed" in flow.header(shift) and "rollback request was posted" in flow.text(shift)
    assert (await flow.dryrun_state())["weights"] == {"blue": 90, "green": 10}
    proposal = flow.latest().ts
    assert "Roll back api/production to blue" in flow.header(proposal)
    await flow.react(proposal, APPROVERS[0])  # one click
    assert "Succeeded" in flow.header(proposal)
    assert (await flow.dryrun_state())["weights"] == {"blue": 100, "green": 0}
    # Nothing to draw from: the thread says so instead of showing an empty chart.
    assert any(
        "No chart of `error-ratio`: PROMETHEUS_URL is not set" in t for t in flow.thread(shift)
    )

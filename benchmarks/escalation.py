"""Escalation start-up re-arm time and due-time-to-PagerDuty delay.

1. Re-arm: 10,000 open alert groups with pending steps on SQLite; time from a new
   `Escalation` on that database to the wheel armed for the earliest due step.
2. Delay: 1,000 P1 pages due in the same minute; wall time from the tick at the due time
   to each trigger reaching the PagerDuty test server (one routing key per 100 groups,
   since PagerDuty itself allows only ~120 events a minute per key).

    .venv/bin/python benchmarks/escalation.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actions.pagerduty.ratelimit import RateLimiter  # noqa: E402
from alerts.config import Route  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import BUNDLED_EXAMPLE, load_config  # noqa: E402
from bot.escalation.feature import Escalation  # noqa: E402
from bot.escalation.models import EscalationStep  # noqa: E402
from bot.metrics import Metrics  # noqa: E402
from bot.pagerduty.models import PagerDutyPage  # noqa: E402
from bot.pagerduty.paging import PagerDuty  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.storage import migrate  # noqa: E402
from bot.storage.engine import create_engine, session_factory  # noqa: E402
from bot.storage.models import AlertGroup  # noqa: E402
from tests.servers.pagerduty import PagerDutyServer  # noqa: E402

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def group(i: int, team: str) -> AlertGroup:
    labels = {"alertname": f"A{i}", "team": team}
    return AlertGroup(
        group_key=f"g{i}",
        receiver="r",
        status="firing",
        priority="P1",
        channel="C0000ALERT",
        group_labels=labels,
        common_labels=labels,
        common_annotations={},
        digest="d",
        first_firing_at=START,
        firing_since=START,
        created_at=START,
        updated_at=START,
    )


async def seed(url: str, count: int, teams: int) -> None:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    async with sessions.begin() as session:
        rows = [group(i, f"t{i % teams}") for i in range(count)]
        session.add_all(rows)
        await session.flush()
        session.add_all(
            EscalationStep(
                group_id=g.id,
                channel=g.channel,
                priority="P1",
                kind="page",
                due_at=START + timedelta(minutes=5, seconds=(g.id % 60)),
                state="pending",
                payload={},
                created_at=START,
            )
            for g in rows
        )
    await engine.dispose()


async def main() -> None:
    config = load_config(BUNDLED_EXAMPLE)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await seed(url, 10_000, 1)
        engine = create_engine(url)
        clock = FakeClock(START)
        settings = Settings.model_construct(database_url=url)
        started = time.perf_counter()
        sessions = session_factory(engine)
        metrics = Metrics()
        pagerduty = PagerDuty(sessions, config, settings, clock, metrics, on_outbox=lambda: None)
        escalation = Escalation(
            sessions=sessions,
            engine=engine,
            config=config,
            clock=clock,
            metrics=metrics,
            wake_outbox=lambda: None,
            pager=pagerduty,
        )
        due = await escalation.rearm()
        print(
            f"re-arm, 10,000 open groups with pending steps (SQLite): "
            f"{time.perf_counter() - started:.3f} s (next due {due})"
        )
        await engine.dispose()

    async with PagerDutyServer() as pd:
        teams = 10
        routes = [
            Route(
                match={"team": f"t{i}"},
                channel="C0000ALERT",
                pagerduty_routing_key=f"{i:02d}" + "K" * 30,
            )
            for i in range(teams)
        ]
        routes.append(Route(channel="C0000ALERT"))
        config = config.model_copy(
            update={"alerts": config.alerts.model_copy(update={"routes": routes})}
        )
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            await seed(url, 1_000, teams)
            engine = create_engine(url)
            clock = FakeClock(START + timedelta(minutes=6))
            settings = Settings.model_construct(
                database_url=url,
                pagerduty_events_url=pd.url,
                pagerduty_routing_key=SecretStr("D" * 32),
            )
            metrics = Metrics()
            pagerduty = PagerDuty(
                session_factory(engine), config, settings, clock, metrics, on_outbox=lambda: None
            )
            escalation = Escalation(
                sessions=session_factory(engine),
                engine=engine,
                config=config,
                clock=clock,
                metrics=metrics,
                wake_outbox=lambda: None,
                pager=pagerduty,
            )
            async with aiohttp.ClientSession() as http:
                pagerduty.start(http)
                escalation.start(run_workers=False)
                started = time.monotonic()
                await escalation.tick()
                total = time.monotonic() - started
            sessions = session_factory(engine)
            async with sessions() as session:
                from sqlalchemy import func, select

                sent = await session.scalar(
                    select(func.count())
                    .select_from(PagerDutyPage)
                    .where(PagerDutyPage.state == "sent")
                )
            await engine.dispose()
        calls = len(pd.calls_to("/v2/enqueue"))
        print(
            f"1,000 pages due in the same minute: {calls} triggers sent ({sent} rows sent) "
            f"in {total:.2f} s; mean {total / max(calls, 1) * 1000:.1f} ms per page, "
            f"last page {total:.2f} s after the tick"
        )


async def spread_over_a_minute(count: int = 1_000, seconds: float = 60.0) -> None:
    """`count` pages due at evenly spread moments of one real minute, the bot running as
    in production (scheduler, real clock); the delay of each page from its due time."""
    from bot.clock import SystemClock

    async with PagerDutyServer() as pd:
        config = load_config(BUNDLED_EXAMPLE)
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/spread.db"
            engine = create_engine(url)
            await migrate.upgrade(engine)
            sessions = session_factory(engine)
            first = datetime.now(UTC) + timedelta(seconds=3)
            due: dict[int, datetime] = {}
            async with sessions.begin() as session:
                rows = [group(i, "t0") for i in range(count)]
                session.add_all(rows)
                await session.flush()
                for index, g in enumerate(rows):
                    due[g.id] = first + timedelta(seconds=seconds * index / count)
                    session.add(
                        EscalationStep(
                            group_id=g.id,
                            channel=g.channel,
                            priority="P1",
                            kind="page",
                            due_at=due[g.id],
                            state="pending",
                            payload={},
                            created_at=first,
                        )
                    )
            settings = Settings.model_construct(
                database_url=url,
                pagerduty_events_url=pd.url,
                pagerduty_routing_key=SecretStr("D" * 32),
            )
            metrics = Metrics()
            pagerduty = PagerDuty(
                sessions, config, settings, SystemClock(), metrics, on_outbox=lambda: None
            )
            escalation = Escalation(
                sessions=sessions,
                engine=engine,
                config=config,
                clock=SystemClock(),
                metrics=metrics,
                wake_outbox=lambda: None,
                pager=pagerduty,
            )
            # PagerDuty's own limit is ~120 events a minute per key: use enough keys that
            # the limiter, not the bot, is never what is measured here.
            pagerduty.sender._limiter = RateLimiter(limit=10_000)
            async with aiohttp.ClientSession() as http:
                pagerduty.start(http)
                escalation.start(run_workers=True)
                deadline = time.monotonic() + seconds + 60
                while len(pd.calls_to("/v2/enqueue")) < count and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                await escalation.stop()
            await engine.dispose()
        delays = sorted(
            (call.at - due[int(call.json["dedup_key"].rsplit(":", 1)[1])]).total_seconds()
            for call in pd.calls_to("/v2/enqueue")
        )
    p50 = delays[len(delays) // 2]
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(
        f"{len(delays)} pages due evenly over {seconds:.0f} s (real clock, scheduler running): "
        f"delay from due time p50 {p50:.2f} s, p99 {p99:.2f} s, max {delays[-1]:.2f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
    asyncio.run(spread_over_a_minute())

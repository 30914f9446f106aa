"""The audit log is tamper-evident: edits, deletions and insertions are found."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from bot.audit import trail
from bot.audit.chain import verify
from bot.storage import migrate
from bot.storage.engine import create_engine, session_factory
from bot.storage.models import AuditEvent

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


async def write_events(url: str, count: int) -> None:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    for index in range(count):
        async with sessions.begin() as session:
            trail.record(
                session,
                at=T0 + timedelta(minutes=index),
                actor="U0000ONC01",
                action="alert.acknowledged",
                subject=f"alert-group:{index}",
                via="slack",
            )
            if index % 2:
                trail.record(
                    session,
                    at=T0 + timedelta(minutes=index),
                    actor="system",
                    action="page.sent",
                    subject=f"alert-group:{index}",
                )
    await engine.dispose()


async def events(url: str) -> list[AuditEvent]:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        rows = list((await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())
    await engine.dispose()
    return rows


async def tamper(url: str, statement: object) -> None:
    engine = create_engine(url)
    async with session_factory(engine).begin() as session:
        await session.execute(statement)  # type: ignore[call-overload]
    await engine.dispose()


async def test_an_untouched_chain_verifies(database_url: str) -> None:
    await write_events(database_url, 6)
    checked, broken = verify(await events(database_url))
    assert (checked, broken) == (9, None)


async def test_an_edited_event_is_named(database_url: str) -> None:
    await write_events(database_url, 6)
    victim = (await events(database_url))[4]
    await tamper(
        database_url,
        update(AuditEvent).where(AuditEvent.id == victim.id).values(actor="U0000OUT01"),
    )
    _, broken = verify(await events(database_url))
    assert broken is not None and broken.event_id == victim.id and "edited" in broken.reason


async def test_a_deleted_event_is_found_at_the_next_one(database_url: str) -> None:
    await write_events(database_url, 6)
    rows = await events(database_url)
    await tamper(database_url, delete(AuditEvent).where(AuditEvent.id == rows[3].id))
    _, broken = verify(await events(database_url))
    assert broken is not None and broken.event_id == rows[4].id and "removed" in broken.reason


async def test_concurrent_writers_keep_one_chain(database_url: str) -> None:
    import asyncio

    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)

    async def writer(n: int) -> None:
        for index in range(10):
            async with sessions.begin() as session:
                trail.record(session, at=T0, actor=f"U{n}", action="x", subject=str(index))

    await asyncio.gather(*(writer(n) for n in range(4)))
    await engine.dispose()
    checked, broken = verify(await events(database_url))
    assert (checked, broken) == (40, None)


def test_cli_verify_and_export(tmp_path: Path) -> None:
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    asyncio.run(write_events(url, 3))
    env = {**os.environ, "DATABASE_URL": url}
    ok = subprocess.run(
        [sys.executable, "-m", "bot", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0 and "OK: 4 audit events" in ok.stdout
    md = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "audit",
            "export",
            "--since",
            "2026-11-27T00:00Z",
            "--format",
            "md",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert md.returncode == 0
    assert "| 01:01:00 | U0000ONC01 | alert.acknowledged | alert-group:1 | via=slack |" in md.stdout
    js = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "audit",
            "export",
            "--since",
            "2026-11-27T01:01:30Z",
            "--format",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert [e["subject"] for e in __import__("json").loads(js.stdout)] == ["alert-group:2"]

    import sqlite3

    db = sqlite3.connect(tmp_path / "audit.db")
    db.execute('UPDATE audit_log SET details = \'{"via": "forged"}\' WHERE id = 2')
    db.commit()
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and "BROKEN at event 2" in bad.stdout

"""The audit log pruned behind a signed checkpoint: `chatops audit verify` still proves the
kept chain, says where it begins, and fails on an edit after the checkpoint or of it."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import delete, select, update

from bot.audit import trail
from bot.config import Config
from bot.service import StartupError
from bot.storage.models import AuditCheckpoint, AuditEvent
from tests.escalation.conftest import Bot, pd_server, start_bot

__all__ = ["pd_server", "start_bot"]

KEY = "audit-checkpoint-test-key-0123456789"
DAY = timedelta(days=1)


def pruning(config: Config, audit: str) -> Config:
    retention = config.retention.model_validate({**config.retention.model_dump(), "audit": audit})
    return config.model_copy(update={"retention": retention})


async def verify(database_url: str, key: str | None = KEY) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "CHATOPS_AUDIT_KEY"}
    env["DATABASE_URL"] = database_url
    if key is not None:
        env["CHATOPS_AUDIT_KEY"] = key
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "audit",
        "verify",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def record_days(bot: Bot, days: int) -> None:
    for day in range(days):
        async with bot.service.sessions.begin() as session:
            trail.record(
                session,
                at=bot.now() + day * DAY,
                actor="U0000DEP01",
                action="test.event",
                subject=f"day:{day}",
                n=day,
            )


async def test_pruned_audit_log_verifies_from_its_signed_checkpoint_and_catches_edits(
    database_url: str, start_bot: Any, example_config: Config
) -> None:
    bot: Bot = await start_bot(
        database_url,
        config=pruning(example_config, "400d"),
        settings={"chatops_audit_key": SecretStr(KEY)},
    )
    await record_days(bot, 10)
    code, out = await verify(database_url)
    assert code == 0 and "10 audit events, chain intact from its first event" in out, out

    # 405 days on, the first five days are past 400 days: removed from the start.
    bot.running.clock.advance(405 * DAY)
    pruned = await bot.service.pruner.prune()
    assert pruned.rows["audit_log"] == 5
    async with bot.service.sessions() as session:
        kept = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    assert [e.details["n"] for e in kept] == [5, 6, 7, 8, 9]
    code, out = await verify(database_url)
    assert code == 0, out
    assert f"5 audit events, chain intact from event {kept[0].id}" in out
    assert "5 events up to" in out and "signed checkpoint" in out

    code, out = await verify(database_url, key=None)
    assert code == 1 and "set CHATOPS_AUDIT_KEY" in out
    code, out = await verify(database_url, key="another key")
    assert code == 1 and "signature does not match" in out

    # An edit after the checkpoint shows, as before.
    async with bot.service.sessions.begin() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.id == kept[2].id).values(details={"n": 99})
        )
    code, out = await verify(database_url)
    assert code == 1 and f"BROKEN at event {kept[2].id}" in out and "edited" in out
    async with bot.service.sessions.begin() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.id == kept[2].id).values(details={"n": 7})
        )
    assert (await verify(database_url))[0] == 0

    # Removing the first kept event shows: the next one no longer follows the checkpoint.
    async with bot.service.sessions.begin() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.id == kept[0].id))
    code, out = await verify(database_url)
    assert code == 1 and f"BROKEN at event {kept[1].id}" in out

    # And a checkpoint moved to hide that needs the key to sign it.
    async with bot.service.sessions.begin() as session:
        await session.execute(
            update(AuditCheckpoint).values(
                last_removed_hash=kept[0].hash, last_removed_id=kept[0].id
            )
        )
    code, out = await verify(database_url)
    assert code == 1 and "signature does not match" in out


async def test_the_audit_log_is_kept_whole_by_default(sqlite_url: str, start_bot: Any) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await record_days(bot, 3)
    bot.running.clock.advance(3000 * DAY)
    assert "audit_log" not in (await bot.service.pruner.prune()).rows
    code, out = await verify(sqlite_url, key=None)
    assert code == 0 and "3 audit events, chain intact from its first event" in out


async def test_pruning_the_audit_log_without_a_key_refuses_to_start(
    sqlite_url: str, start_bot: Any, example_config: Config
) -> None:
    with pytest.raises(StartupError, match="CHATOPS_AUDIT_KEY"):
        await start_bot(sqlite_url, config=pruning(example_config, "400d"))


def test_audit_retention_shorter_than_operations_is_refused(example_config: Config) -> None:
    with pytest.raises(ValueError, match=r"retention\.audit is shorter than retention\.operations"):
        pruning(example_config, "30d")

"""Backups and recovery: a backup taken while the bot serves, restored after the database
was lost, sends nothing twice that the lost database had sent.

The drill of the README's "Backups and recovery", with `chatops backup` and `chatops
restore` run as a person runs them (subprocesses with DATABASE_URL), a bot serving
meanwhile, the emulator as Slack and the PagerDuty test server.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

from bot.clock import FakeClock
from bot.sandbox.emulator import SlackEmulator
from tests.escalation.conftest import Bot, pd_server, start_bot
from tests.support.payloads import notification

__all__ = ["pd_server", "start_bot"]

MIN = timedelta(minutes=1)


async def chatops(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def p1() -> dict:  # type: ignore[type-arg]
    return notification(labels={"alertname": "ErrorRate", "severity": "error"})


async def test_a_backup_taken_with_a_post_pending_restores_without_posting_or_paging_twice(
    sqlite_url: str, start_bot: object, emulator: SlackEmulator, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.db"
    clock = FakeClock()
    started = clock.now()
    bot: Bot = await start_bot(sqlite_url, clock=clock)  # type: ignore[operator]
    # The P1's message is queued in the outbox, not yet in Slack, when the backup is taken.
    await bot.service.intake.store("alertmanager", p1())
    await bot.service.processor.process_pending()
    code, out, err = await chatops(sqlite_url, "backup", str(backup))
    assert code == 0, err
    assert "backed up" in out and backup.stat().st_mode & 0o077 == 0

    # A restore under a serving bot is refused and changes nothing.
    code, _out, err = await chatops(sqlite_url, "restore", str(backup))
    assert code == 2 and "serving" in err and "stop it first" in err

    # The lost database goes on: the post reaches Slack, the P1 pages at minute 5.
    await bot.running.settle()
    await bot.at(6 * MIN)
    assert len(emulator.messages("C0000ALERT")) == 1
    assert len(bot.events("trigger")) == 1
    await bot.running.stop()

    code, out, err = await chatops(sqlite_url, "restore", str(backup))
    assert code == 0, err
    assert "look up 1 post(s)" in out

    # Two hours later the restored bot starts: the post is found in Slack, not sent again.
    clock.advance(2 * 60 * MIN - 6 * MIN)
    restored: Bot = await start_bot(sqlite_url, clock=clock)  # type: ignore[operator]
    restored.started = started
    assert await restored.service.outbox.recover() == 1
    await restored.at(2 * 60 * MIN)
    assert len(emulator.messages("C0000ALERT")) == 1, "the pending post went out twice"
    assert len(emulator.calls("conversations.history")) >= 1

    # The page that fell due while the backup was old goes once more with the group's
    # dedup_key, which PagerDuty folds into the incident it already has: one incident.
    assert {e["dedup_key"] for e in restored.events("trigger")} == {"chatops:group:1"}
    assert len(restored.pd.incidents) == 1
    # Renotification every 15 minutes: one after the outage, not the seven that fell due,
    # and the next one a full interval later.
    assert len(restored.replies("C0000ALERT", "Still firing")) == 1
    await restored.at(2 * 60 * MIN + 14 * MIN)
    assert len(restored.replies("C0000ALERT", "Still firing")) == 1


async def test_restore_refuses_a_file_that_is_not_a_backup_and_keeps_the_database(
    sqlite_url: str, start_bot: object, tmp_path: Path, emulator: SlackEmulator
) -> None:
    bot: Bot = await start_bot(sqlite_url)  # type: ignore[operator]
    await bot.fire(p1())
    await bot.running.stop()
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    code, _out, err = await chatops(sqlite_url, "restore", str(junk))
    assert code == 2 and "not a SQLite database" in err
    other = tmp_path / "other.db"
    other.write_bytes(b"")
    import sqlite3

    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    code, _out, err = await chatops(sqlite_url, "restore", str(other))
    assert code == 2 and "not a backup of this bot" in err

    restarted: Bot = await start_bot(sqlite_url)  # type: ignore[operator]
    await restarted.tick()
    assert len(emulator.messages("C0000ALERT")) == 1  # the group is still known: no new post


async def test_postgres_backup_names_pg_dump_and_restore_refuses_while_a_replica_serves(
    start_bot: object, emulator: SlackEmulator, tmp_path: Path
) -> None:
    import shlex

    from tests.support.databases import fresh_database

    async with fresh_database("postgres", tmp_path) as url:
        archive = tmp_path / "chatops.dump"
        bot: Bot = await start_bot(url)  # type: ignore[operator]
        await bot.service.intake.store("alertmanager", p1())
        await bot.service.processor.process_pending()
        code, out, err = await chatops(url, "backup", str(archive))
        assert code == 0, err
        [command] = [
            line.strip() for line in out.splitlines() if line.strip().startswith("pg_dump --")
        ]
        dump = await asyncio.create_subprocess_exec(*shlex.split(command))
        assert await dump.wait() == 0 and archive.stat().st_size > 0

        code, _out, err = await chatops(url, "restore", str(archive))
        assert code == 2 and "serving on this database" in err

        await bot.running.settle()
        assert len(emulator.messages("C0000ALERT")) == 1
        await bot.running.stop()
        code, out, err = await chatops(url, "restore", str(archive))
        assert code == 0, err
        assert "look up 1 post(s)" in out
        restored: Bot = await start_bot(url)  # type: ignore[operator]
        assert await restored.service.outbox.recover() == 1
        await restored.tick()
        assert len(emulator.messages("C0000ALERT")) == 1
        await restored.running.stop()

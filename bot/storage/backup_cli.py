"""`chatops backup FILE` and `chatops restore FILE` (the drill is in the README's "Backups
and recovery")."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.settings import Settings
from bot.storage import migrate
from bot.storage.backup import (
    BackupError,
    backup_sqlite,
    client_major,
    pg_dump_command,
    replace_sqlite,
    run_pg_restore,
)
from bot.storage.engine import create_engine, normalise_url
from bot.storage.restored import Reconciled, reconcile_restored
from bot.storage.serving import SqliteRestoreLock, postgres_replicas_serving, sqlite_file

STOP_FIRST = (
    "stop it first (SIGTERM to `chatops serve`, `systemctl stop chatops`, or "
    "`kubectl scale deployment/chatops --replicas=0`), then run chatops restore again"
)


def add_backup_commands(sub: Any) -> None:
    backup = sub.add_parser(
        "backup", help="copy the database while the bot serves (SQLite; pg_dump for PostgreSQL)"
    )
    backup.add_argument("file", type=Path)
    backup.set_defaults(func=_backup)
    restore = sub.add_parser(
        "restore", help="replace the database by a backup; refuses while a bot serves on it"
    )
    restore.add_argument("file", type=Path, help="a `chatops backup` file or a pg_dump archive")
    restore.set_defaults(func=_restore)


def _backup(args: argparse.Namespace) -> int:
    url = normalise_url(Settings().database_url)
    try:
        database = sqlite_file(url)
        if database is not None:
            copy = backup_sqlite(database, args.file)
            print(
                f"backed up {database} to {copy.path} ({copy.size:,} bytes, schema "
                f"{copy.revision or 'none'}); restore with: chatops restore {copy.path}"
            )
            return 0
        return asyncio.run(_check_pg_dump(url, args.file))
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def _check_pg_dump(url: str, target: Path) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            server = int(await conn.scalar(text("SHOW server_version_num")) or 0) // 10000
    finally:
        await engine.dispose()
    client = client_major("pg_dump")
    command = " ".join(pg_dump_command(url, target))
    if client < server:
        print(
            f"error: pg_dump here is version {client} and the server {server}: pg_dump "
            f"cannot dump a newer server. Install postgresql-client-{server}, then run:\n"
            f"  {command}",
            file=sys.stderr,
        )
        return 2
    print(
        "PostgreSQL is backed up with pg_dump, consistent while the bot serves "
        "(the password, if any, from PGPASSWORD or ~/.pgpass):\n"
        f"  {command}\n"
        f"pg_dump {client} can dump this server ({server}). "
        f"Restore with: chatops restore {target}"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    url = normalise_url(Settings().database_url)
    try:
        result = asyncio.run(restore(url, args.file, now=datetime.now(UTC)))
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"restored from {args.file}. Before sending anything, the bot will look up "
        f"{result.to_look_up} post(s) in Slack that the lost database may have sent; "
        f"{result.answers_dropped} stale ephemeral answer(s) dropped, "
        f"{result.updates_resent} update(s) queued again. Start it: chatops serve"
    )
    return 0


async def restore(url: str, archive: Path, *, now: datetime) -> Reconciled:
    database = sqlite_file(url)
    if database is not None:
        lock = SqliteRestoreLock(database)
        if not lock.acquire():
            raise BackupError(f"a bot is serving on {database}: {STOP_FIRST}")
        try:
            replace_sqlite(database, archive)
            return await _bring_up(url, archive, now)
        finally:
            lock.release()
    engine = create_engine(url)
    try:
        serving = await postgres_replicas_serving(engine)
    finally:
        await engine.dispose()
    if serving:
        raise BackupError(
            f"{serving} replica(s) of the bot are serving on this database: {STOP_FIRST}"
        )
    await asyncio.to_thread(run_pg_restore, url, archive)
    return await _bring_up(url, archive, now)


async def _bring_up(url: str, archive: Path, now: datetime) -> Reconciled:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)  # a backup of an older release: brought to this one
        return await reconcile_restored(engine, now=now, source=str(archive))
    finally:
        await engine.dispose()

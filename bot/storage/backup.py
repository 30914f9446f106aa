"""`chatops backup FILE` and `chatops restore FILE`: a copy to recover from, and a recovery
that does not post twice what the lost database had already sent.

SQLite is copied with its online backup API while the bot serves: one step copies a
consistent snapshot under a read transaction, which in WAL mode never blocks intake's
writes. PostgreSQL is backed up with `pg_dump`, whose consistency and formats are
PostgreSQL's own; the bot only says how and checks that the `pg_dump` here can read the
server (a client older than the server refuses to dump it). Restore refuses while a bot
serves on the database (bot/storage/serving.py), then hands every unsent outbox row to
recovery (bot/storage/restored.py).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess  # nosec B404: runs pg_dump/pg_restore, named by absolute path from PATH
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine.url import make_url

from bot.storage.serving import sqlite_file


class BackupError(Exception):
    """Something the person must fix; the message says what and how."""


@dataclass(frozen=True)
class SqliteCopy:
    path: Path
    revision: str | None
    size: int


def backup_sqlite(database: Path, target: Path) -> SqliteCopy:
    if not database.exists():
        raise BackupError(f"{database} does not exist: nothing to back up (check DATABASE_URL)")
    if target.resolve() == database.resolve():
        raise BackupError("the backup file must not be the database itself")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # all pages in one step: one consistent snapshot
        finally:
            copy.close()
    finally:
        source.close()
    os.chmod(partial, 0o600)  # alert text, user ids and audit trail: not for everyone
    checked = check_sqlite_copy(partial)
    os.replace(partial, target)
    return SqliteCopy(target, checked.revision, target.stat().st_size)


def check_sqlite_copy(path: Path) -> SqliteCopy:
    """A readable, intact database of this bot, or BackupError saying what it is instead."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            [status] = conn.execute("PRAGMA integrity_check").fetchone()
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            revision = None
            if "alembic_version" in tables:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database ({exc})") from exc
    if status != "ok":
        raise BackupError(f"{path} is damaged: integrity check says {status!r}")
    if "slack_outbox" not in tables:
        raise BackupError(f"{path} is not a backup of this bot (it has no slack_outbox table)")
    return SqliteCopy(path, revision, path.stat().st_size)


def replace_sqlite(database: Path, backup: Path) -> None:
    """Put `backup` in place of `database`; the caller holds the restore lock."""
    check_sqlite_copy(backup)
    partial = database.with_name(database.name + ".restoring")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    os.chmod(partial, 0o600)
    # The old file's write-ahead log would be replayed into the new file at next open and
    # corrupt it: gone first, while no bot is serving.
    for suffix in ("-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    os.replace(partial, database)


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A URL pg_dump/pg_restore accept, and the environment carrying the password (kept out
    of the command line, which every local user can read in `ps`)."""
    parsed = make_url(url)
    env = {}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def client_major(tool: str) -> int:
    path = shutil.which(tool)
    if path is None:
        raise BackupError(
            f"{tool} is not installed here (Debian: apt-get install postgresql-client)"
        )
    out = subprocess.run(  # noqa: S603  # nosec B603: fixed arguments, no shell
        [path, "--version"], capture_output=True, text=True, check=False, timeout=10
    ).stdout
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    if found is None:
        raise BackupError(f"could not read {tool}'s version from {out.strip()!r}")
    return int(found.group(1))


def pg_dump_command(url: str, target: Path) -> list[str]:
    plain, _env = libpq_target(url)
    return ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", plain]


def run_pg_restore(url: str, archive: Path) -> None:
    if not archive.is_file():
        raise BackupError(f"{archive} is not a file")
    path = shutil.which("pg_restore")
    if path is None:
        raise BackupError("pg_restore is not installed here (apt-get install postgresql-client)")
    plain, env = libpq_target(url)
    done = subprocess.run(  # noqa: S603  # nosec B603: fixed arguments, no shell
        [
            path,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",  # all or nothing: a failed restore leaves the old data
            f"--dbname={plain}",
            str(archive),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
        timeout=3600,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[-2000:]}")


__all__ = [
    "BackupError",
    "backup_sqlite",
    "check_sqlite_copy",
    "client_major",
    "libpq_target",
    "pg_dump_command",
    "replace_sqlite",
    "run_pg_restore",
    "sqlite_file",
]

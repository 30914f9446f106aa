"""Finding the real local services the tests need, and failing loudly in CI without them."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

PG_HOST = os.environ.get("CHATOPS_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CHATOPS_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CHATOPS_TEST_PG_USER", "postgres")
IN_CI = bool(os.environ.get("CI"))


def missing(what: str, how: str) -> None:
    """In CI a missing service is a failure; on a laptop, a skip that says how to get it."""
    if IN_CI:
        pytest.fail(f"{what} is not available in CI: {how}", pytrace=False)
    pytest.skip(f"{what} not available; {how}")


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    if not postgres_reachable():
        missing(
            f"PostgreSQL on {PG_HOST}:{PG_PORT}",
            "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main "
            "start` (Debian) or `apt-get install -y postgresql`",
        )


def alertmanager_binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        path = shutil.which(name)
        if path:
            return path
    missing("Alertmanager", "install it with `apt-get install -y prometheus-alertmanager`")
    raise AssertionError("unreachable")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

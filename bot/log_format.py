"""Log records as single lines that no outside string can break.

Messages quote what alerts, PagerDuty and HTTP clients sent (a `runbook` annotation, an
event type, a path); a newline in it would end the record and let the sender write a
line of their choosing ("... ERROR bot.security: all clear"), and an escape sequence
would act on whoever tails the log. The formatter escapes control characters in the
whole formatted message, once, for every logger, so no call site has to remember to.
A traceback keeps its lines, each indented under a `|`, so none of them can pass for a
record either.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from alerts.terminal_text import printable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CONTINUATION = "\n  | "


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = logging.makeLogRecord(record.__dict__)
        line.msg, line.args = printable(record.getMessage()), None
        line.exc_info, line.exc_text, line.stack_info = None, None, None
        text = super().format(line)
        blocks = []
        if record.exc_info:
            blocks.append(self.formatException(record.exc_info))
        elif record.exc_text:
            blocks.append(record.exc_text)
        if record.stack_info:
            blocks.append(self.formatStack(record.stack_info))
        for block in blocks:
            text += "".join(CONTINUATION + printable(part) for part in block.splitlines())
        return text


def handler(stream: TextIO | None = None) -> logging.Handler:
    """A stream handler (stderr by default) writing one-line records."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(OneLineFormatter(FORMAT))
    return out

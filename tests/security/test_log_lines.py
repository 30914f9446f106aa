"""No outside string can start a log line: a newline in a `runbook` annotation or in a
PagerDuty event type stays inside its one record, escaped, in the log the bot writes
(the handler `chatops` installs, bot/log_format.py)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot import log_format
from tests.escalation.conftest import WEBHOOK_SECRET, Bot, pd_server, start_bot
from tests.support.payloads import notification

__all__ = ["pd_server", "start_bot"]

FORGED = "\n2026-01-01 12:00:00,000 ERROR bot.security: forged all clear"


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """What the bot's own log handler writes, at INFO as `chatops serve` logs."""
    stream = io.StringIO()
    handler = log_format.handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def records_quoting(log: io.StringIO, text: str) -> list[str]:
    lines = log.getvalue().splitlines()
    assert not [line for line in lines if line.startswith("2026-01-01 12:00:00,000 ERROR")]
    return [line for line in lines if text in line]


async def test_a_newline_in_a_runbook_annotation_stays_in_one_escaped_record(
    sqlite_url: str, start_bot, log: io.StringIO
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await bot.fire(notification(annotations={"runbook": f"no-such-runbook{FORGED}"}))

    [record] = records_quoting(log, "forged all clear")

    assert "no-such-runbook\\n2026-01-01 12:00:00,000 ERROR" in record
    assert " WARNING bot.runbooks.intake_link: " in record  # the bot's own record, one line


async def test_a_newline_in_a_pagerduty_event_type_stays_in_one_escaped_record(
    sqlite_url: str, start_bot, log: io.StringIO
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    status, _ = await bot.pd.send_webhook(
        f"{bot.url}/webhooks/pagerduty",
        f"incident.custom{FORGED}\x1b[2J",
        {"id": "PINC001", "type": "incident"},
        WEBHOOK_SECRET,
    )
    assert status == 200

    [record] = records_quoting(log, "forged all clear")

    assert "incident.custom\\n2026-01-01 12:00:00,000 ERROR" in record
    assert "\x1b" not in log.getvalue()
    assert " INFO bot.pagerduty.webhook: PagerDuty " in record


def test_a_traceback_keeps_its_lines_but_none_can_pass_for_a_record() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.log_lines")
    handler = log_format.handler(stream)
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"bad label{FORGED}")
        except ValueError:
            logger.error("processing failed for %s", f"group{FORGED}", exc_info=True)
    finally:
        logger.removeHandler(handler)
    first, *rest = stream.getvalue().splitlines()
    assert "processing failed for group\\n2026-01-01" in first
    assert rest and all(line.startswith("  | ") for line in rest)
    assert any("ValueError: bad label" in line for line in rest)

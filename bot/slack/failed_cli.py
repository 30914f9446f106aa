"""`chatops slack failed [--since 24h]`: the Slack calls Slack refused for good.

Beside `chatops deliveries` (what Alertmanager sent), this lists what the bot could not
say in Slack: each failed outbox row with Slack's whole answer (its error, `errors`,
`response_metadata.messages` and `warnings`), so the message that was lost can be fixed.
Slack's answer and the channel are outside text: control characters are printed as
escapes, so nothing in them can move the cursor or write to the clipboard.
"""

from __future__ import annotations

import argparse
import asyncio
import unicodedata
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from alerts.durations import parse_duration
from bot.settings import Settings
from bot.storage.engine import create_engine, session_factory
from bot.storage.models import OutboxEntry


def add_slack_commands(sub: Any) -> None:
    slack = sub.add_parser("slack", help="Slack calls the bot made: the ones Slack refused")
    actions = slack.add_subparsers(dest="slack_command", required=True)
    failed = actions.add_parser("failed", help="calls Slack refused for good, with its reasons")
    failed.add_argument("--since", default="24h", help="how far back, as a duration (default: 24h)")
    failed.add_argument("--limit", type=int, default=50)
    failed.set_defaults(func=_failed)


def terminal_safe(text: object) -> str:
    """`text` with control and format characters (ESC, newline, bidi overrides) escaped."""
    out = []
    for char in str(text):
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _failed(args: argparse.Namespace) -> int:
    try:
        since = datetime.now(UTC) - parse_duration(args.since)
    except ValueError as exc:
        print(f"error: --since: {exc}")
        return 2
    rows = asyncio.run(_rows(since, args.limit))
    if not rows:
        print(f"no Slack calls failed since {since.isoformat(timespec='seconds')}")
        return 0
    for row in rows:
        print(_describe(row))
    return 0


async def _rows(since: datetime, limit: int) -> list[OutboxEntry]:
    engine = create_engine(Settings().database_url)
    try:
        async with session_factory(engine)() as session:
            query = (
                select(OutboxEntry)
                .where(OutboxEntry.state == "failed", OutboxEntry.created_at >= since)
                .order_by(OutboxEntry.id.desc())
                .limit(max(1, limit))
            )
            return list((await session.scalars(query)).all())
    finally:
        await engine.dispose()


def _describe(row: OutboxEntry) -> str:
    detail = row.slack_error or {}
    when = row.created_at.isoformat(timespec="seconds")
    lines = [
        f"#{row.id} {when} {row.op} to {terminal_safe(row.channel)}"
        + (f" ({terminal_safe(row.message_key)})" if row.message_key else "")
        + f" after {row.attempts} attempt(s)",
        f"  error:    {terminal_safe(detail.get('error') or row.last_error or 'unknown')}"
        + (f" ({terminal_safe(detail['method'])})" if detail.get("method") else ""),
    ]
    for title, key in (("errors", "errors"), ("messages", "messages"), ("warnings", "warnings")):
        for item in detail.get(key) or []:
            lines.append(f"  {title + ':':9} {terminal_safe(item)}")
    return "\n".join(lines)

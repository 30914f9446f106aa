"""`chatops report --since 7d [--format md|json|png]`: the seed's operational metrics."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.terminal_text import printable
from bot.audit.cli import parse_when
from bot.report.collect import load_events
from bot.report.figures import Figures, compute, previous_period
from bot.report.render import to_json_data, to_markdown
from bot.settings import Settings
from bot.storage.engine import create_engine, session_factory
from bot.terminal import say


def add_report_commands(sub: Any) -> None:
    report = sub.add_parser(
        "report",
        help="operational figures: incidents, MTTA/MTTR, deploys, rollbacks, approvals",
    )
    report.add_argument(
        "--since", default="7d", help="ISO time (2026-11-23T00:00Z) or a duration (7d); default 7d"
    )
    report.add_argument("--until", help="ISO time; default now")
    report.add_argument("--format", choices=["md", "json", "png"], default="md")
    report.add_argument(
        "--output", help="write to this file (png default: report.png in the current folder)"
    )
    report.set_defaults(func=_report)


async def figures_for(
    database_url: str, since: datetime, until: datetime
) -> tuple[Figures, Figures]:
    """This period's figures and the previous period's of the same length."""
    before_since, before_until = previous_period(since, until)
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            events = await load_events(session, before_since, until)
    finally:
        await engine.dispose()
    current = compute([e for e in events if e.at >= since], since, until)
    previous = compute([e for e in events if e.at < since], before_since, before_until)
    return current, previous


def _report(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    try:
        since = parse_when(args.since, now)
        until = parse_when(args.until, now) if args.until else now
    except ValueError as exc:
        say(f"error: {exc}", file=sys.stderr)
        return 2
    if since >= until:
        say("error: --since must be before --until", file=sys.stderr)
        return 2
    current, previous = asyncio.run(figures_for(Settings().database_url, since, until))
    if args.format == "png":
        from bot.report.chart import render_png  # matplotlib takes seconds to import

        path = Path(args.output or "report.png")
        path.write_bytes(render_png(current))
        say(f"wrote {path}")
        return 0
    text = (
        to_markdown(current, previous)
        if args.format == "md"
        else json.dumps(to_json_data(current, previous), indent=2, sort_keys=True) + "\n"
    )
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        say(f"wrote {args.output}")
    else:
        sys.stdout.write(printable(text, keep_newlines=True))
    return 0

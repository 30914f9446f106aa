"""`chatops incidents list [--since 7d]` and `chatops incidents export N [--format md|json]`:
the declared incidents, and one's postmortem draft, read from the database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from alerts.durations import format_duration, parse_duration
from bot.incidents.models import Incident
from bot.incidents.timeline import postmortem
from bot.settings import Settings
from bot.storage.engine import create_engine, session_factory
from incidents.summary import status_word


def add_incidents_commands(sub: Any) -> None:
    incidents = sub.add_parser("incidents", help="list declared incidents, export a postmortem")
    actions = incidents.add_subparsers(dest="incidents_command", required=True)
    listing = actions.add_parser("list", help="incidents declared since a while ago")
    listing.add_argument("--since", default="7d", help="a duration: 7d, 24h (default 7d)")
    listing.set_defaults(func=_list)
    export = actions.add_parser("export", help="print an incident's postmortem draft")
    export.add_argument("id", type=int, help="the incident's number")
    export.add_argument("--format", choices=["md", "json"], default="md")
    export.set_defaults(func=_export)


def _list(args: argparse.Namespace) -> int:
    try:
        since = datetime.now(UTC) - parse_duration(args.since)
    except ValueError:
        print(f"error: {args.since!r} is not a duration like 7d or 24h", file=sys.stderr)
        return 2
    for line in asyncio.run(_lines(since)):
        print(line)
    return 0


async def _lines(since: datetime) -> list[str]:
    engine = create_engine(Settings().database_url)
    now = datetime.now(UTC)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(
                select(Incident).where(Incident.declared_at >= since).order_by(Incident.id)
            )
            return [
                f"#{i.id}  {i.severity}  {status_word(i.status):<13} "
                f"{i.declared_at:%Y-%m-%d %H:%M}  "
                f"{format_duration((i.resolved_at or now) - i.started_at):>6}  {i.title}"
                for i in rows
            ]
    finally:
        await engine.dispose()


def _export(args: argparse.Namespace) -> int:
    text = asyncio.run(_draft(args.id, as_json=args.format == "json"))
    if text is None:
        print(f"error: there is no incident #{args.id}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


async def _draft(incident_id: int, *, as_json: bool) -> str | None:
    engine = create_engine(Settings().database_url)
    try:
        async with session_factory(engine)() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None:
                return None
            return await postmortem(session, incident, datetime.now(UTC), as_json=as_json)
    finally:
        await engine.dispose()

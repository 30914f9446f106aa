"""`chatops audit verify` and `chatops audit export`: checking and reading the audit log."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from alerts.durations import parse_duration
from bot.audit.checkpoint import CHECKPOINT_ID, verify_kept
from bot.settings import Settings
from bot.storage.engine import create_engine, session_factory
from bot.storage.models import AuditCheckpoint, AuditEvent
from bot.terminal import say, shown


def add_audit_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="verify or export the tamper-evident audit log")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    check = actions.add_parser("verify", help="check the hash chain; names the first broken event")
    check.set_defaults(func=_verify)
    export = actions.add_parser("export", help="print an incident timeline")
    export.add_argument(
        "--since", required=True, help="ISO time (2026-11-27T01:00Z) or a duration (2h)"
    )
    export.add_argument("--until", help="ISO time; default now")
    export.add_argument("--subject", help="only events about this subject, e.g. alert-group:42")
    export.add_argument("--format", choices=["md", "json"], default="md")
    export.set_defaults(func=_export)


def parse_when(value: str, now: datetime) -> datetime:
    """An ISO time, or a duration meaning "that long ago"."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            return now - parse_duration(value)
        except ValueError:
            raise ValueError(f"{value!r} is neither an ISO time nor a duration like 2h") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _events_and_checkpoint() -> tuple[list[AuditEvent], AuditCheckpoint | None]:
    events = await _events()
    engine = create_engine(Settings().database_url)
    try:
        async with session_factory(engine)() as session:
            return events, await session.get(AuditCheckpoint, CHECKPOINT_ID)
    finally:
        await engine.dispose()


async def _events(**filters: Any) -> list[AuditEvent]:
    engine = create_engine(Settings().database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(AuditEvent).order_by(AuditEvent.id)
            if filters.get("since") is not None:
                query = query.where(AuditEvent.at >= filters["since"])
            if filters.get("until") is not None:
                query = query.where(AuditEvent.at <= filters["until"])
            if filters.get("subject"):
                query = query.where(AuditEvent.subject == filters["subject"])
            return list((await session.scalars(query)).all())
    finally:
        await engine.dispose()


def _verify(args: argparse.Namespace) -> int:
    events, checkpoint = asyncio.run(_events_and_checkpoint())
    secret = Settings().chatops_audit_key
    checked, broken, where = verify_kept(
        events, checkpoint, secret.get_secret_value() if secret is not None else None
    )
    if broken is None:
        say(f"OK: {checked} audit events, chain intact {where}")
        return 0
    if broken.event_id == 0:
        say(f"BROKEN: {broken.reason}")
        return 1
    say(
        f"BROKEN at event {broken.event_id}: {broken.reason} "
        f"({checked - 1} events before it are intact)"
    )
    return 1


def _export(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    try:
        since = parse_when(args.since, now)
        until = parse_when(args.until, now) if args.until else None
    except ValueError as exc:
        say(f"error: {exc}", file=sys.stderr)
        return 2
    events = asyncio.run(_events(since=since, until=until, subject=args.subject))
    if args.format == "json":
        say(json.dumps([_as_dict(e) for e in events], indent=2, default=str))
        return 0
    say(render_markdown(events, since, until or now))
    return 0


def _as_dict(item: AuditEvent) -> dict[str, Any]:
    return {
        "id": item.id,
        "at": item.at.isoformat(),
        "actor": item.actor,
        "action": item.action,
        "subject": item.subject,
        "details": item.details,
        "hash": item.hash,
    }


def render_markdown(events: list[AuditEvent], since: datetime, until: datetime) -> str:
    lines = [
        f"# Incident timeline {since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} UTC",
        "",
        "| time (UTC) | who | what | subject | details |",
        "| --- | --- | --- | --- | --- |",
    ]
    for item in events:
        details = ", ".join(f"{k}={v}" for k, v in sorted(item.details.items()))
        # Actors, subjects and details quote outside text: one table row each, inert.
        lines.append(
            f"| {item.at:%H:%M:%S} | {shown(item.actor)} | {shown(item.action)} | "
            f"{shown(item.subject)} | {shown(details.replace('|', '/'))} |"
        )
    if not events:
        lines.append("| | | no events in this window | | |")
    return "\n".join(lines)

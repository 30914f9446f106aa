"""`chatops deliveries list|show N|retry N`: the webhook deliveries the bot stored.

Every accepted webhook body is kept (bot/alerts/intake.py). When one could not be processed it
stays in the database as `failed` and its channel was told to look here; `retry` queues
it again, and the running bot (`chatops serve`) processes it within a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.deliveries import requeue
from bot.settings import Settings
from bot.storage.engine import create_engine, session_factory
from bot.storage.models import WebhookDelivery
from bot.terminal import say, shown

T = TypeVar("T")
STATES = ("failed", "pending", "done")
WAIT_STEP = 0.5


def add_deliveries_commands(sub: Any) -> None:
    deliveries = sub.add_parser(
        "deliveries", help="inspect and replay stored webhook deliveries (failed ones first)"
    )
    actions = deliveries.add_subparsers(dest="deliveries_command", required=True)
    listing = actions.add_parser("list", help="deliveries that failed or wait for a retry")
    listing.add_argument("--state", choices=[*STATES, "all"], help="default: failed and retrying")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=_list)
    show = actions.add_parser("show", help="one delivery: state, attempts, error and body")
    show.add_argument("id", type=int)
    show.set_defaults(func=_show)
    retry = actions.add_parser("retry", help="queue a failed delivery again; the bot posts it")
    retry.add_argument("id", type=int)
    retry.add_argument(
        "--wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="wait that long for the running bot to process it (0: do not wait)",
    )
    retry.set_defaults(func=_retry)


def _with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(Settings().database_url)
        try:
            async with session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _list(args: argparse.Namespace) -> int:
    async def rows(session: AsyncSession) -> list[WebhookDelivery]:
        query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(args.limit)
        if args.state in STATES:
            query = query.where(WebhookDelivery.state == args.state)
        elif args.state is None:
            query = query.where(
                (WebhookDelivery.state == "failed")
                | ((WebhookDelivery.state == "pending") & (WebhookDelivery.attempts > 0))
            )
        return list((await session.scalars(query)).all())

    found = _with_session(rows)
    if not found:
        say("no deliveries" + ("" if args.state else " failed or waiting for a retry"))
        return 0
    say(f"{'ID':>6}  {'RECEIVED (UTC)':19}  {'SOURCE':12}  {'STATE':7}  TRIES  GROUP / ERROR")
    for row in reversed(found):
        what = _group_name(row)
        if row.error:
            what += f"  {_one_line(row.error)[:80]}"
        say(
            f"{row.id:>6}  {row.received_at:%Y-%m-%d %H:%M:%S}  {row.source:12}  "
            f"{row.state:7}  {row.attempts:>5}  {what}"
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    async def one(session: AsyncSession) -> WebhookDelivery | None:
        return await session.get(WebhookDelivery, args.id)

    row = _with_session(one)
    if row is None:
        say(f"error: no delivery {args.id}", file=sys.stderr)
        return 1
    say(f"delivery:     {row.id}")
    say(f"source:       {shown(row.source)}")
    say(f"received:     {row.received_at.isoformat()}")
    say(f"state:        {row.state}" + (f" ({row.outcome})" if row.outcome else ""))
    say(f"attempts:     {row.attempts}")
    if row.next_attempt_at is not None and row.state == "pending":
        say(f"next attempt: {row.next_attempt_at.isoformat()}")
    if row.processed_at is not None:
        say(f"processed:    {row.processed_at.isoformat()}")
    say(f"group:        {_group_name(row)}")
    if row.error:
        say("error:")
        for line in row.error.splitlines():
            say(f"  {shown(line)}")
    if row.state != "done":
        say(f"replay:       chatops deliveries retry {row.id}")
    say("body:")
    say(json.dumps(row.body, indent=2, sort_keys=True, default=str))
    return 0


def _retry(args: argparse.Namespace) -> int:
    async def run() -> int:
        engine = create_engine(Settings().database_url)
        try:
            sessions = session_factory(engine)
            async with sessions.begin() as session:
                queued = await requeue(session, args.id)
            if isinstance(queued, str):
                say(f"error: {queued}", file=sys.stderr)
                return 1
            say(f"delivery {args.id} queued again")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + args.wait
            while loop.time() < deadline:
                async with sessions() as session:
                    row = await session.get(WebhookDelivery, args.id)
                if row is not None and row.state == "done":
                    say(f"processed: {row.outcome}")
                    return 0
                if row is not None and row.state == "failed":
                    say(f"failed again: {row.error}", file=sys.stderr)
                    return 1
                await asyncio.sleep(WAIT_STEP)
            if args.wait > 0:
                say(
                    f"still pending after {args.wait:g}s: "
                    "is `chatops serve` running on this database?",
                    file=sys.stderr,
                )
                return 1
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _group_name(row: WebhookDelivery) -> str:
    body = row.body if isinstance(row.body, dict) else {}
    labels = body.get("groupLabels") or body.get("commonLabels") or {}
    if isinstance(labels, dict) and labels:
        return shown(",".join(f"{k}={v}" for k, v in sorted(labels.items())))
    return shown(str(body.get("groupKey") or row.group_key or "-")[:80])


def _one_line(text: str) -> str:
    return shown(" ".join(text.split()))

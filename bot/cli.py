"""The `chatops` command line (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alerts.policy import DefaultPriorityRules, PriorityRules
from bot import log_format
from bot.cli_config import load_or_exit, resolve_config_path
from bot.settings import Settings
from bot.terminal import say

log = logging.getLogger("bot")


def _priority_rules() -> PriorityRules:
    """The config's priority derivation for `runbooks coverage`; the built-in one when
    there is no config file (coverage by --alertname needs none)."""
    path = resolve_config_path(Settings())
    return load_or_exit(path).alerts if path.exists() else DefaultPriorityRules()


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = Settings()
    path = resolve_config_path(settings, args.path)
    config = load_or_exit(path)
    from bot.prometheus_check import check_queries

    report = check_queries(
        config, path.read_text(encoding="utf-8"), prometheus_url=settings.prometheus_url
    )
    from bot.oncall.check import check_schedules

    problems, notes = check_schedules(config, path.read_text(encoding="utf-8"), settings)
    report.problems.extend(problems)
    report.notes.extend(notes)
    for note in report.notes:
        say(note, file=sys.stderr)
    if report.problems:
        say(f"error: invalid config {path}:", file=sys.stderr)
        for problem in report.problems:
            say(f"  {problem}", file=sys.stderr)
        return 2
    routes = len(config.alerts.routes)
    services = len(config.deploy.services)
    say(f"{path}: OK ({routes} route(s), {services} deploy service(s))")
    return 0


def cmd_config_reference(args: argparse.Namespace) -> int:
    from bot.config_reference import reference, update_readme

    if args.update_readme:
        changed = update_readme(Path(args.update_readme))
        say(f"{args.update_readme}: {'updated' if changed else 'already up to date'}")
        return 0
    say(reference())
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.storage import migrate
    from bot.storage.engine import create_engine

    settings = Settings()

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            if args.action == "upgrade":
                await migrate.upgrade(engine, args.revision or "head")
                say(f"database at {await migrate.current(engine)}")
            elif args.action == "downgrade":
                if not args.revision:
                    say("error: downgrade needs a revision (e.g. base)", file=sys.stderr)
                    return 2
                await migrate.downgrade(engine, args.revision)
                say(f"database at {await migrate.current(engine) or 'base'}")
            else:
                current = await migrate.current(engine)
                head = migrate.head_revision()
                note = "(head)" if current == head else f"(head is {head})"
                say(f"{current or 'base'} {note}")
        finally:
            await engine.dispose()
        return 0

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.runner import serve

    settings = Settings()
    if not args.sandbox and not settings.chatops_aws_secret_id:
        from bot.startup import production_problem

        # Before the config: "pass --sandbox" is the answer to a first `chatops serve`.
        problem = production_problem(settings)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    config = load_or_exit(resolve_config_path(settings, sandbox=args.sandbox))
    return asyncio.run(
        serve(
            settings,
            config,
            host=args.host,
            port=args.port,
            run_migrations=not args.no_migrate,
            sandbox=args.sandbox,
            sandbox_host=args.sandbox_host,
            sandbox_port=args.sandbox_port,
            sandbox_socket_mode=args.sandbox_socket_mode,
        )
    )


def _add_serve_command(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the bot (--sandbox: against a built-in Slack)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    serve.add_argument(
        "--sandbox",
        action="store_true",
        help="try it locally: a Slack emulator and PagerDuty stand-in, no real credentials",
    )
    serve.add_argument(
        "--sandbox-port", type=int, default=3001, help="port of the Slack emulator in sandbox mode"
    )
    serve.add_argument(
        "--sandbox-host",
        help="listen on this address instead of 127.0.0.1 in sandbox mode (exposes it)",
    )
    serve.add_argument(
        "--sandbox-socket-mode",
        action="store_true",
        help="in sandbox mode, connect the bot to the emulator by Socket Mode",
    )
    serve.set_defaults(func=cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatops", description="Slack ChatOps bot for on-call teams"
    )
    parser.add_argument("--log-level", default=os.environ.get("CHATOPS_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)

    _add_serve_command(sub)

    mig = sub.add_parser("migrate", help="apply or inspect database migrations")
    mig.add_argument(
        "action", nargs="?", default="upgrade", choices=["upgrade", "downgrade", "current"]
    )
    mig.add_argument("revision", nargs="?")
    mig.set_defaults(func=cmd_migrate)

    check = sub.add_parser("check-config", help="validate the config file and name every problem")
    check.add_argument("path", nargs="?")
    check.set_defaults(func=cmd_check_config)

    reference = sub.add_parser(
        "config-reference", help="print the config reference (Markdown), from the config models"
    )
    reference.add_argument(
        "--update-readme", metavar="PATH", help="rewrite that README's generated section instead"
    )
    reference.set_defaults(func=cmd_config_reference)

    _add_feature_commands(sub)
    return parser


def _add_feature_commands(sub: Any) -> None:
    """Each feature's own subcommands (imported here: a plain `chatops --help` stays fast)."""
    from bot.sandbox.cli import add_sandbox_commands

    add_sandbox_commands(sub)

    from bot.runbooks.cli import add_runbooks_commands
    from bot.runbooks.coverage import stored_alerts

    add_runbooks_commands(sub, alerts=stored_alerts, priority_rules=_priority_rules)
    from bot.audit.cli import add_audit_commands

    add_audit_commands(sub)
    from bot.escalation.cli import add_routes_commands

    add_routes_commands(sub)
    from bot.report.cli import add_report_commands

    add_report_commands(sub)
    from bot.alerts.deliveries_cli import add_deliveries_commands

    add_deliveries_commands(sub)
    from bot.storage.backup_cli import add_backup_commands

    add_backup_commands(sub)
    from bot.incidents.cli import add_incidents_commands

    add_incidents_commands(sub)
    from bot.slack.failed_cli import add_slack_commands

    add_slack_commands(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        handlers=[log_format.handler()],  # one line per record, whatever it quotes
    )
    # APScheduler logs every timer run at INFO; the bot logs what the timers do itself.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # botocore logs whole response bodies at DEBUG, Secrets Manager's secret included:
    # never below INFO for the AWS libraries, whatever CHATOPS_LOG_LEVEL says.
    for name in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(name).setLevel(logging.INFO)
    return int(args.func(args))

"""The `chatops` command line (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from alerts.policy import DefaultPriorityRules, PriorityRules
from bot.cli_config import load_or_exit, resolve_config_path
from bot.settings import Settings

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
        print(note, file=sys.stderr)
    if report.problems:
        print(f"error: invalid config {path}:", file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    routes = len(config.alerts.routes)
    services = len(config.deploy.services)
    print(f"{path}: OK ({routes} route(s), {services} deploy service(s))")
    return 0


def cmd_config_reference(args: argparse.Namespace) -> int:
    from bot.config_reference import reference, update_readme

    if args.update_readme:
        changed = update_readme(Path(args.update_readme))
        print(f"{args.update_readme}: {'updated' if changed else 'already up to date'}")
        return 0
    print(reference())
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
                print(f"database at {await migrate.current(engine)}")
            elif args.action == "downgrade":
                if not args.revision:
                    print("error: downgrade needs a revision (e.g. base)", file=sys.stderr)
                    return 2
                await migrate.downgrade(engine, args.revision)
                print(f"database at {await migrate.current(engine) or 'base'}")
            else:
                current = await migrate.current(engine)
                head = migrate.head_revision()
                note = "(head)" if current == head else f"(head is {head})"
                print(f"{current or 'base'} {note}")
        finally:
            await engine.dispose()
        return 0

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.runner import serve

    settings = Settings()
    config = load_or_exit(resolve_config_path(settings))
    return asyncio.run(
        serve(
            settings,
            config,
            host=args.host,
            port=args.port,
            run_migrations=not args.no_migrate,
            sandbox_port=args.sandbox_port,
        )
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatops", description="Slack ChatOps bot for on-call teams"
    )
    parser.add_argument("--log-level", default=os.environ.get("CHATOPS_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the bot (sandbox mode without SLACK_BOT_TOKEN)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")
    serve.add_argument(
        "--sandbox-port", type=int, default=3001, help="port of the Slack emulator in sandbox mode"
    )
    serve.set_defaults(func=cmd_serve)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # APScheduler logs every timer run at INFO; the bot logs what the timers do itself.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # botocore logs whole response bodies at DEBUG, Secrets Manager's secret included:
    # never below INFO for the AWS libraries, whatever CHATOPS_LOG_LEVEL says.
    for name in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(name).setLevel(logging.INFO)
    return int(args.func(args))

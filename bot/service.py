"""The composition root: builds every part from settings and config, starts and stops them.

Tests build a `Service` the same way `chatops serve` does, with a fake clock or a
different Slack URL, so what is tested is what runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from actions.alertmanager import AlertmanagerClient
from actions.prometheus import PrometheusClient
from alerts.runbooks import RunbookError
from bot.alerts.deliveries import Failure
from bot.alerts.events import GroupListener
from bot.alerts.groups import INCIDENT_NOTE, ONCALL_NOTE, PAGERDUTY_NOTE
from bot.alerts.handlers import AlertButtons
from bot.alerts.intake import IntakeWriter
from bot.alerts.processor import DeliveryProcessor
from bot.alerts.silence_watch import SilenceWatch
from bot.alerts.storm import count_folds, summary_renderer
from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.escalation.engine import cancel_steps
from bot.graphs.feature import AlertGraphs
from bot.http.routes import build_web_app
from bot.incidents.handlers import IncidentListeners
from bot.incidents.pagerduty import PAGERDUTY_LINKS
from bot.incidents.store import incident_note
from bot.metrics import Metrics
from bot.oncall.alert_note import note_source
from bot.operations.feature import Operations
from bot.operations.handlers import OperationListeners
from bot.pagerduty.buttons import IncidentButtons
from bot.pagerduty.incident_events import IncidentEvents
from bot.pagerduty.incident_link import linked_incidents
from bot.pagerduty.status import pagerduty_note
from bot.prometheus_check import analysed_environments
from bot.report.live import OperationalMetrics
from bot.report.weekly import WeeklyReport
from bot.runbooks.feature import RunbookFeature
from bot.runbooks.handlers import RunbookListeners
from bot.settings import Settings
from bot.slack.answers import SlackAnswers
from bot.slack.app import build_app, register
from bot.slack.click_limit import ClickLimit
from bot.slack.outbox.sending import make_client
from bot.slack.outbox.worker import Outbox
from bot.slack.replay_guard import ReplayGuard
from bot.slack.requests import SlackRequests
from bot.startup import StartupError as StartupError
from bot.startup import slack_secrets, webhook_token
from bot.storage import migrate
from bot.storage.engine import create_engine, session_factory
from bot.storage.serving import ServingMark
from bot.storage.user_limits import SharedUserLimit
from bot.timer_features import build_timer_features

log = logging.getLogger(__name__)

# What one feature's lines on an alert group's message come from (bot/alerts/groups.py).
SESSION_NOTES = {
    PAGERDUTY_NOTE: pagerduty_note,
    INCIDENT_NOTE: incident_note,
    PAGERDUTY_LINKS: linked_incidents,
}


class Service:
    # Held while serving, so `chatops restore` refuses to swap the database under us.
    serving: ServingMark | None = None

    def __init__(
        self,
        settings: Settings,
        config: Config,
        *,
        clock: Clock | None = None,
        run_workers: bool = True,
    ) -> None:
        self.settings = settings
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.metrics = Metrics()
        self.run_workers = run_workers
        token, signing = slack_secrets(settings)
        self.alertmanager_token = webhook_token(settings)
        self.engine: AsyncEngine = create_engine(settings.database_url)
        # A session class of this service's own, so its figures count only its commits.
        observed: type[Session] = type("ServiceSession", (Session,), {})
        # The report's figures (incidents, MTTA/MTTR, deploys, approvals), fed by this
        # service's committed audit events.
        OperationalMetrics(self.metrics.registry).watch(observed)
        count_folds(observed, self.metrics.storm_folded.inc)
        self.sessions = session_factory(self.engine, observed, info=_session_info(config))
        self.slack_client = make_client(token, settings.slack_api_url)
        self.slack_app = build_app(self.slack_client, signing)
        self.outbox = Outbox(
            self.sessions,
            self.slack_client,
            self.clock,
            self.metrics,
            prepare=summary_renderer(config.alerts),
        )
        self.answers = SlackAnswers(self.sessions, self.clock, self.wake_outbox)
        self.intake = IntakeWriter(self.sessions, self.clock, config=config.alerts)
        self.replays = ReplayGuard(self.sessions)
        self.slack_requests = SlackRequests(self.slack_app, signing, self.replays, self.metrics)
        # Features append themselves here (escalation, bake watch, runbooks); the list is
        # shared with the processor, so appending after construction is fine.
        self.group_listeners: list[GroupListener] = []
        self.processor = self._delivery_processor()
        self.http: aiohttp.ClientSession | None = None
        self.alertmanager: AlertmanagerClient | None = None
        self.prometheus: PrometheusClient | None = None
        self._build_features()
        self.incident_events = IncidentEvents(
            config.alerts,
            config.pagerduty.services,
            listeners=self.group_listeners,
            stop_escalation=cancel_steps,
        )
        self._register_listeners()
        self.web_app = build_web_app(self)
        self._tasks: list[asyncio.Task[Any]] = []
        self.web_app.on_startup.append(self._on_startup)
        # on_cleanup runs after aiohttp has waited for in-flight requests, so everything
        # answered 2xx is committed before the workers are stopped.
        self.web_app.on_cleanup.append(self._on_cleanup)
        self.web_app.on_cleanup.append(lambda _app: self.runbooks.close())

    def _delivery_processor(self) -> DeliveryProcessor:
        return DeliveryProcessor(
            self.sessions,
            self.config.alerts,
            self.clock,
            on_processed=lambda _status, outcome: self.metrics.deliveries_processed.labels(
                outcome
            ).inc(),
            on_outbox=self.outbox.wake,
            intake_busy=lambda: self.intake.busy,
            listeners=self.group_listeners,
            on_storms=self.metrics.storms_open.set,
            on_failure=self._count_failure,
        )

    def _build_features(self) -> None:
        """Operations, runbooks, escalation, graphs and the weekly report, each listening
        to alert groups where it needs to."""
        config = self.config
        # Expires a silence of ours once it silences an alert it was not made for.
        self.silence_watch = SilenceWatch(self.sessions, lambda: self.alertmanager, self.clock)
        self.operations = Operations(
            self.sessions,
            config.deploy,
            self.clock,
            self.slack_client,
            on_outbox=self.outbox.wake,
            prometheus=lambda: self.prometheus,
            on_change=lambda session, change: self.pagerduty.changes.record(session, change),
        )
        try:
            # Runbook steps that change things are approved through the operations' reactions.
            self.runbooks = RunbookFeature(
                config.runbooks,
                self.sessions,
                self.clock,
                metrics=self.metrics,
                alertmanager=lambda: self.alertmanager,
                approval_flow=self.operations,
                priorities=config.alerts,
                alerts=config.alerts,
            )
        except RunbookError as exc:
            raise StartupError("the runbooks do not load:\n" + "\n".join(exc.problems)) from None
        self.weekly_report = (
            WeeklyReport(self.sessions, config.report, self.clock, on_outbox=self.outbox.wake)
            if config.report is not None
            else None
        )
        self._build_escalation()
        self.graphs = AlertGraphs(
            self.sessions,
            config.alerts,
            self.clock,
            prometheus_url=self.settings.prometheus_url,
            on_outbox=self.outbox.wake,
        )
        self.group_listeners.extend(
            [
                self.runbooks.linker,
                self.operations.bake_watch,
                self.escalation.listener,
                self.graphs,
            ]
        )
        self.group_listeners.append(self.incidents)

    def _build_escalation(self) -> None:
        """PagerDuty, and escalation paging through it, with every feature whose timers
        the timer holder runs (bot/timer_features.py)."""
        built = build_timer_features(self)
        self.incidents, self.pagerduty, self.pruner = built.incidents, built.pagerduty, built.pruner
        self.oncall, self.heartbeats, self.escalation = (
            built.oncall,
            built.heartbeats,
            built.escalation,
        )

    def _register_listeners(self) -> None:
        """Each feature's Slack listeners, given what they use."""
        config = self.config
        alert_buttons = AlertButtons(
            self.sessions,
            self.clock,
            config.alerts,
            # Who may confirm a silence broader than its group.
            approvers=(
                config.runbooks.approvers
                if config.runbooks.approvers is not None
                else config.deploy.approvers
            ),
            directory=self.operations.directory,
            listeners=self.group_listeners,
            alertmanager=lambda: self.alertmanager,
            answers=self.answers,
        )
        incident_buttons = IncidentButtons(
            self.sessions,
            self.clock,
            config.pagerduty.users,
            incidents=lambda: self.pagerduty.incidents,
            answers=self.answers,
        )
        register(
            self.slack_app,
            alerts=alert_buttons,
            operations=OperationListeners(self.operations),
            runbooks=RunbookListeners(self.runbooks.steps, self.sessions, self.answers),
            incidents=incident_buttons,
            answers=self.answers,
            clicks=ClickLimit(
                SharedUserLimit(self.sessions, "click", config.deploy.clicks_per_minute),
                self.answers,
                self.clock,
            ),
            declared=IncidentListeners(self.incidents, self.answers),
            oncall=self.oncall,
        )
        self.answers.accept_urls_of(self.settings.slack_api_url)  # the emulator's, in sandbox

    def _hold_serving(self) -> None:
        if self.serving is None:
            self.serving = ServingMark(self.settings.database_url)
        self.serving.hold()

    async def migrate(self) -> None:
        self._hold_serving()
        await migrate.upgrade(self.engine)

    async def _on_startup(self, _app: web.Application) -> None:
        self._hold_serving()
        # Visible as serving from the start (PostgreSQL): `chatops restore` and recovery of
        # rows claimed by a dead replica both ask for this replica's liveness lock.
        await self.outbox.replica.ensure()
        self.http = aiohttp.ClientSession()
        # One connection pool for every Slack call instead of a new session per request.
        self.slack_client.session = self.http
        if self.settings.alertmanager_url:
            self.alertmanager = AlertmanagerClient(self.http, self.settings.alertmanager_url)
        if self.settings.prometheus_url:
            self.prometheus = PrometheusClient(self.http, self.settings.prometheus_url)
        elif analysed_environments(self.config):
            log.warning(
                "bake analysis is configured for %s but PROMETHEUS_URL is not set: every "
                "analysis run will fail and shifts there will end their bake failed",
                ", ".join(analysed_environments(self.config)),
            )
        if self.run_workers:
            self._tasks.append(asyncio.create_task(self.processor.run(), name="deliveries"))
            self._tasks.append(asyncio.create_task(self.outbox.run(), name="outbox"))
            self._tasks.append(asyncio.create_task(self.silence_watch.run(), name="silences"))
        await self.operations.start(run_workers=self.run_workers)
        await self.heartbeats.start()
        self.pagerduty.start(self.http)
        self.oncall.start(self.http)
        self.escalation.start(run_workers=self.run_workers)
        self.graphs.start(self.http, run_workers=self.run_workers)

    async def _on_cleanup(self, _app: web.Application) -> None:
        """Finish what was accepted: process stored deliveries and flush due Slack calls."""
        await self.intake.close()
        await self.operations.stop()
        await self.escalation.stop()
        await self.graphs.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        try:
            await asyncio.wait_for(self._finish_work(), timeout=10)
        except TimeoutError:
            log.warning("shutdown: work left in the database will be picked up at next start")
        except Exception:
            log.exception("shutdown: could not finish work; it stays in the database")
        await self.outbox.close()
        if self.http is not None:
            await self.http.close()
        await self.engine.dispose()
        if self.serving is not None:
            self.serving.release()

    async def _finish_work(self) -> None:
        await self.processor.process_pending()
        await self.outbox.drain(max_passes=20)

    def _count_failure(self, failure: Failure) -> None:
        counter = self.metrics.deliveries_failed if failure.final else self.metrics.delivery_retries
        counter.labels(failure.source).inc()

    def wake_processor(self) -> None:
        self.processor.wake()

    def apply_settings(self, settings: Settings) -> None:
        """Take rotated secrets (SIGHUP) without a restart: the Slack token, the signing
        secret, the webhook token and PagerDuty's keys. Endpoints and the database URL
        still need a restart."""
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        if token:
            self.slack_client.token = token
        signing = settings.slack_signing_secret
        if signing is not None and signing.get_secret_value():
            self.slack_requests.use_signing_secret(signing.get_secret_value())
        am_token = settings.alertmanager_webhook_token
        if am_token is not None and am_token.get_secret_value():
            self.alertmanager_token = am_token.get_secret_value()
        self.settings = settings
        self.pagerduty.use_settings(settings)
        self.oncall.use_settings(settings)

    def wake_outbox(self) -> None:
        self.outbox.wake()


def _session_info(config: Config) -> dict[str, Any]:
    """What every session carries for the alert messages: each feature's line, from that
    feature (bot/alerts/groups.py reads them from here)."""
    return {**SESSION_NOTES, ONCALL_NOTE: note_source(config)}

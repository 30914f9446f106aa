"""The features whose timers the timer holder runs, built together: PagerDuty's queues,
declared incidents, retention, on-call handoffs and heartbeats, and the escalation wheel
that runs them all (one replica at a time). Part of the composition root, beside
bot/service.py, so that the service module stays one screenful of wiring per concern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from actions.alertmanager import AlertmanagerClient
from bot.alerts.muted import AlertmanagerMutes
from bot.clock import Clock
from bot.config import Config
from bot.escalation.feature import Escalation
from bot.heartbeats.feature import Heartbeats
from bot.incidents.feature import Incidents
from bot.incidents.pagerduty import Follow
from bot.metrics import Metrics
from bot.oncall.feature import OnCall
from bot.operations.feature import Operations
from bot.pagerduty.paging import PagerDuty
from bot.report.weekly import WeeklyReport
from bot.retention.pruning import Pruner
from bot.retention.setup import build_pruner
from bot.settings import Settings
from bot.slack.answers import SlackAnswers
from bot.slack.outbox.worker import Outbox
from bot.slack.people import SlackPeople
from bot.slack.person_check import People


class Wiring(Protocol):
    """What these features are built from: the service's shared parts (bot/service.py)."""

    sessions: async_sessionmaker[AsyncSession]
    engine: AsyncEngine
    config: Config
    settings: Settings
    clock: Clock
    metrics: Metrics
    outbox: Outbox
    answers: SlackAnswers
    operations: Operations
    weekly_report: WeeklyReport | None
    alertmanager: AlertmanagerClient | None
    slack_client: Any  # the Web API client; its SDK type stays in bot.slack


@dataclass(frozen=True)
class TimerFeatures:
    pagerduty: PagerDuty
    incidents: Incidents
    pruner: Pruner
    oncall: OnCall
    heartbeats: Heartbeats
    escalation: Escalation


def build_timer_features(service: Wiring) -> TimerFeatures:
    pagerduty = PagerDuty(
        service.sessions,
        service.config,
        service.settings,
        service.clock,
        service.metrics,
        on_outbox=service.outbox.wake,
    )
    incidents = Incidents(
        service.sessions,
        service.config.incidents,
        service.config.alerts,
        service.clock,
        directory=service.operations.directory,
        is_person=People(service.slack_client).is_person,
        wake_outbox=service.outbox.wake,
        follow=Follow(lambda: pagerduty.incidents, service.config.pagerduty.users),
        pager=pagerduty,
    )
    pruner, oncall, heartbeats = _timed_features(service, pagerduty)
    escalation = Escalation(
        sessions=service.sessions,
        engine=service.engine,
        config=service.config,
        clock=service.clock,
        metrics=service.metrics,
        wake_outbox=service.outbox.wake,
        pager=pagerduty,
        timer_jobs=[
            *([service.weekly_report.post_due] if service.weekly_report else []),
            pruner.run_due,
            incidents.tick,
            heartbeats.check,
            oncall.handoffs.due,
        ],
        muted=AlertmanagerMutes(lambda: service.alertmanager, service.config.alerts),
    )
    return TimerFeatures(pagerduty, incidents, pruner, oncall, heartbeats, escalation)


def _timed_features(service: Wiring, pagerduty: PagerDuty) -> tuple[Pruner, OnCall, Heartbeats]:
    # Retention: run by the timer holder with the other durable timer jobs.
    pruner = build_pruner(
        service.sessions,
        service.clock,
        service.config.retention,
        service.settings.chatops_audit_key,
        service.metrics.registry,
    )
    oncall = OnCall(
        service.sessions,
        service.config,
        service.settings,
        service.clock,
        people=SlackPeople(service.slack_client, service.clock),
        answers=service.answers,
        pager=pagerduty,
        members=service.operations.directory.members,
        on_outbox=service.outbox.wake,
    )
    # Heartbeats go late on the timer holder, paging through the same queue.
    heartbeats = Heartbeats(
        service.sessions,
        service.config.heartbeats,
        service.clock,
        service.metrics,
        pagerduty,
        on_outbox=service.outbox.wake,
    )
    return pruner, oncall, heartbeats

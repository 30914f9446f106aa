"""The bot's Prometheus metrics, one registry per running service.

A registry per service (not the process-global default) lets tests run several services
in one process and read each one's figures.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.report.live import OperationalMetrics


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # The seed's operational figures (incidents, MTTA/MTTR, deploys, approvals), fed by
        # committed audit events once `operational.watch` is given the service's sessions.
        self.operational = OperationalMetrics(self.registry)
        self.alerts_received = Counter(
            "chatops_alerts_received",
            "Alerts received from Alertmanager.",
            ["status", "priority"],
            registry=self.registry,
        )
        self.deliveries_processed = Counter(
            "chatops_webhook_deliveries_processed",
            "Webhook deliveries processed, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_rejected = Counter(
            "chatops_webhook_rejected",
            "Webhook requests refused, by reason.",
            ["source", "reason"],
            registry=self.registry,
        )
        self.webhook_latency = Histogram(
            "chatops_webhook_latency_seconds",
            "Time to accept a webhook (validate and store).",
            ["source"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.slack_calls = Counter(
            "chatops_slack_calls",
            "Slack Web API calls, by method and outcome.",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "chatops_outbox_depth", "Slack calls waiting in the outbox.", registry=self.registry
        )
        self.outbox_failed = Gauge(
            "chatops_outbox_failed",
            "Slack calls that failed for good (kept in the database for inspection).",
            registry=self.registry,
        )
        self.outbox_oldest_seconds = Gauge(
            "chatops_outbox_oldest_pending_seconds",
            "Age of the oldest pending Slack call.",
            registry=self.registry,
        )

        # Escalation and PagerDuty (issue 3).
        self.pagerduty_pages_pending = Gauge(
            "chatops_pagerduty_pages_pending",
            "PagerDuty events not delivered yet (kept and retried until they are).",
            registry=self.registry,
        )
        self.pagerduty_pages_failed = Gauge(
            "chatops_pagerduty_pages_failed",
            "PagerDuty events refused for good (kept in the database for inspection).",
            registry=self.registry,
        )
        self.pagerduty_events = Counter(
            "chatops_pagerduty_events",
            "PagerDuty Events API attempts, by event action and outcome.",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.pagerduty_unknown_events = Counter(
            "chatops_pagerduty_unknown_events",
            "PagerDuty webhook events of a type the bot does not know, answered 2xx and "
            "not acted on, by event type.",
            ["event_type"],
            registry=self.registry,
        )
        self.escalation_steps = Counter(
            "chatops_escalation_steps",
            "Escalation steps run, by kind and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.escalation_lag_seconds = Gauge(
            "chatops_escalation_lag_seconds",
            "How late the oldest due escalation step is (0 when none is overdue).",
            registry=self.registry,
        )
        self.timer_leader = Gauge(
            "chatops_timer_leader",
            "1 when this process holds the timer lock and runs escalation timers.",
            registry=self.registry,
        )

        # Storms and replicas (issue 6).
        self.outbox_recovered = Counter(
            "chatops_outbox_recovered",
            "Slack calls taken back from a replica that stopped while sending them.",
            registry=self.registry,
        )
        self.storm_folded = Counter(
            "chatops_storm_folded_groups",
            "Low-priority alert groups folded into a channel's storm summary.",
            registry=self.registry,
        )
        self.storms_open = Gauge(
            "chatops_storms_open",
            "Channels in storm mode right now.",
            registry=self.registry,
        )

        # Deliveries whose processing failed, and crash recovery without a lookup (issue 10).
        self.delivery_retries = Counter(
            "chatops_webhook_delivery_retries",
            "Stored webhook deliveries whose processing failed and that will be tried again.",
            ["source"],
            registry=self.registry,
        )
        self.deliveries_failed = Counter(
            "chatops_webhook_deliveries_failed",
            "Stored webhook deliveries kept as failed after their last try (announced in Slack; "
            "`chatops deliveries list`).",
            ["source"],
            registry=self.registry,
        )
        # Present at 0 from the start, so that the first failure shows as an increase.
        self.deliveries_failed.labels("alertmanager")
        self.outbox_unverified = Counter(
            "chatops_outbox_resent_unverified",
            "Slack posts of a stopped replica sent again without being able to look them up "
            "first (missing_scope, not_in_channel...): possible duplicates.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

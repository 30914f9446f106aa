"""The bot's Prometheus metrics, one registry per running service.

A registry per service (not the process-global default) lets tests run several services
in one process and read each one's figures. Features with figures of their own register
them in it (the report's live figures: bot/report/live.py).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._define_intake_and_slack()
        self._define_escalation()
        self._define_storms_and_recovery()
        self._define_runbooks()
        self._define_heartbeats()

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def _gauge(self, name: str, documentation: str) -> Gauge:
        return Gauge(name, documentation, registry=self.registry)

    def _define_intake_and_slack(self) -> None:
        counter, gauge = self._counter, self._gauge
        self.alerts_received = counter(
            "chatops_alerts_received", "Alerts received from Alertmanager.", "status", "priority"
        )
        self.deliveries_processed = counter(
            "chatops_webhook_deliveries_processed",
            "Webhook deliveries processed, by outcome.",
            "outcome",
        )
        self.webhook_rejected = counter(
            "chatops_webhook_rejected", "Webhook requests refused, by reason.", "source", "reason"
        )
        self.webhook_latency = Histogram(
            "chatops_webhook_latency_seconds",
            "Time to accept a webhook (validate and store).",
            ["source"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.slack_calls = counter(
            "chatops_slack_calls",
            "Slack Web API calls, by method and outcome.",
            "method",
            "outcome",
        )
        # Labels bounded by bot/slack/outbox/refusals.py: Slack's known error codes, else "other".
        self.slack_refusals = counter(
            "chatops_slack_refusals",
            "Slack Web API calls Slack refused, by method and Slack's error code.",
            "method",
            "error",
        )
        self.slack_blocks_dropped = counter(
            "chatops_slack_optional_blocks_dropped",
            "Messages sent again without an optional block Slack refused (an image it could"
            " not fetch), by the block's kind.",
            "kind",
        )
        self.outbox_depth = gauge("chatops_outbox_depth", "Slack calls waiting in the outbox.")
        self.outbox_failed = gauge(
            "chatops_outbox_failed",
            "Slack calls that failed for good (kept in the database for inspection).",
        )
        self.outbox_oldest_seconds = gauge(
            "chatops_outbox_oldest_pending_seconds", "Age of the oldest pending Slack call."
        )

    def _define_escalation(self) -> None:
        """Escalation and PagerDuty (issue 3)."""
        counter, gauge = self._counter, self._gauge
        self.pagerduty_pages_pending = gauge(
            "chatops_pagerduty_pages_pending",
            "PagerDuty events not delivered yet (kept and retried until they are).",
        )
        self.pagerduty_pages_failed = gauge(
            "chatops_pagerduty_pages_failed",
            "PagerDuty events refused for good (kept in the database for inspection).",
        )
        self.pagerduty_events = counter(
            "chatops_pagerduty_events",
            "PagerDuty Events API attempts, by event action and outcome.",
            "action",
            "outcome",
        )
        self.pagerduty_unknown_events = counter(
            "chatops_pagerduty_unknown_events",
            "PagerDuty webhook events of a type the bot does not know, answered 2xx and "
            'not acted on; every unknown type is counted as event_type="other".',
            "event_type",
        )
        self.escalation_steps = counter(
            "chatops_escalation_steps",
            "Escalation steps run, by kind and outcome.",
            "kind",
            "outcome",
        )
        self.escalation_lag_seconds = gauge(
            "chatops_escalation_lag_seconds",
            "How late the oldest due escalation step is (0 when none is overdue).",
        )
        self.timer_leader = gauge(
            "chatops_timer_leader",
            "1 when this process holds the timer lock and runs escalation timers.",
        )

    def _define_storms_and_recovery(self) -> None:
        """Storms and replicas (issue 6); deliveries whose processing failed, and crash
        recovery without a lookup (issue 10)."""
        counter, gauge = self._counter, self._gauge
        self.outbox_recovered = counter(
            "chatops_outbox_recovered",
            "Slack calls taken back from a replica that stopped while sending them.",
        )
        self.storm_folded = counter(
            "chatops_storm_folded_groups",
            "Low-priority alert groups folded into a channel's storm summary.",
        )
        self.storms_open = gauge("chatops_storms_open", "Channels in storm mode right now.")
        self.delivery_retries = counter(
            "chatops_webhook_delivery_retries",
            "Stored webhook deliveries whose processing failed and that will be tried again.",
            "source",
        )
        self.deliveries_failed = counter(
            "chatops_webhook_deliveries_failed",
            "Stored webhook deliveries kept as failed after their last try (announced in Slack; "
            "`chatops deliveries list`).",
            "source",
        )
        # Present at 0 from the start, so that the first failure shows as an increase.
        self.deliveries_failed.labels("alertmanager")
        self.outbox_unverified = counter(
            "chatops_outbox_resent_unverified",
            "Slack posts of a stopped replica sent again without being able to look them up "
            "first (missing_scope, not_in_channel...): possible duplicates.",
        )

    def _define_runbooks(self) -> None:
        """Runbook checklists in alert threads (bot/runbooks/counts.py counts them). The
        `action` label is a step's action type from the step registry (`none` for a step
        without one), never a value from alert data."""
        counter = self._counter
        self.runbook_checklists_opened = counter(
            "chatops_runbook_checklists_opened",
            "Runbook checklists opened in an alert's thread (the Runbook button).",
        )
        self.runbook_steps = counter(
            "chatops_runbook_steps",
            "Runbook steps settled, by action type and outcome: done or skipped by hand; "
            "succeeded or failed when run; refused (nothing run: a parameter, the allow-list "
            "or a stale approval); not_allowed (the clicker is not on call or a responder).",
            "action",
            "outcome",
        )
        self.runbook_approvals = counter(
            "chatops_runbook_step_approvals",
            "Approval requests of runbook steps, by action type and what became of them: "
            "requested, approved, rejected, expired.",
            "action",
            "outcome",
        )
        self.runbook_approval_wait = Histogram(
            "chatops_runbook_step_approval_wait_seconds",
            "From a runbook step's approval request to its quorum of approvals.",
            ["action"],
            registry=self.registry,
            # Seconds to the default 15-minute request_ttl, and beyond for a longer one.
            buckets=(10, 30, 60, 120, 300, 600, 900, 1800, 3600),
        )

    def _define_heartbeats(self) -> None:
        """Heartbeats (issue 24): `name` is a configured heartbeat's name, never alert data."""
        self.heartbeat_last_seen = Gauge(
            "chatops_heartbeat_last_seen_timestamp_seconds",
            "When each heartbeat last signalled, as a Unix time (0: not since the bot "
            "started watching it). time() minus this is how long it has been silent.",
            ["name"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

"""How long the bot keeps what it stores (`retention:`), and why each default is what it is.

Nothing else removes rows: without this, every webhook body, outbox call and resolved
group stays for ever, and on SQLite a full disk stops intake, which loses alerts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from alerts.durations import Duration


class RetentionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    webhook_bodies: Duration = timedelta(days=7)
    """Processed webhook bodies (Alertmanager, Grafana, PagerDuty) are kept this long, for
    `chatops deliveries show` when someone asks why a message looked as it did. A week
    covers a weekend and the Monday review; the alert's state itself lives in its group."""
    failed_webhooks: Duration = timedelta(days=30)
    """A body that failed to process is kept until retried or this long: it is the only
    copy of an alert nobody saw, and `chatops deliveries retry` needs it."""
    outbox: Duration = timedelta(days=7)
    """Sent or failed Slack calls, their rendered payloads and uploaded charts. Crash
    recovery and restores only look at unsent ones, which are never pruned; a week of
    sent ones answers "what did the bot post" without scrolling Slack."""
    alert_groups: Duration = timedelta(days=90)
    """Resolved alert groups with their alerts, escalation steps, pages and finished
    checklists. 90 days keeps a quarter for trends and the weekly report's comparisons;
    a group that an open page, checklist, PagerDuty incident or incident refers to is
    never pruned."""
    operations: Duration = timedelta(days=365)
    """Finished operations and decided approval requests: change history auditors ask
    for by the year."""
    pagerduty_incidents: Duration = timedelta(days=90)
    """Resolved PagerDuty incidents seen through webhooks (the group keeps its own page
    rows until the group goes)."""
    audit: Literal["keep"] | Duration = "keep"
    """`keep`: the audit log is kept whole, and `chatops audit verify` proves all of it.
    A duration (e.g. 400d): older events are removed from the start of the chain behind a
    checkpoint signed with CHATOPS_AUDIT_KEY (required then), and `verify` proves what
    is kept from that checkpoint on. Keep it at least as long as your auditors ask."""
    every: Duration = timedelta(minutes=10)
    """How often the timer holder prunes. Each pass removes in small batches."""
    batch: int = 500
    """Rows removed per transaction: a few milliseconds of the database's single writer
    (SQLite) or of one row lock set (PostgreSQL), so intake and the outbox never wait
    behind a prune."""

    @model_validator(mode="after")
    def _consistent(self) -> RetentionConfig:
        if self.failed_webhooks < self.webhook_bodies:
            raise ValueError(
                "retention.failed_webhooks is shorter than retention.webhook_bodies: a body "
                "that failed to process is the one someone still has to retry; keep it at "
                "least as long"
            )
        if self.outbox < timedelta(hours=1):
            raise ValueError(
                "retention.outbox must be at least 1h: crash recovery looks sent calls up "
                "for up to 10 minutes, and a call being answered must not vanish"
            )
        if self.webhook_bodies < timedelta(hours=1):
            raise ValueError(
                "retention.webhook_bodies must be at least 1h: a delivery is retried for "
                "up to 30 s after it failed, and Alertmanager re-sends within its "
                "group_interval"
            )
        if isinstance(self.audit, timedelta) and self.audit < self.operations:
            raise ValueError(
                "retention.audit is shorter than retention.operations: an operation kept "
                "must keep the audit events that say who approved it"
            )
        if not 1 <= self.batch <= 10_000:
            raise ValueError("retention.batch must be between 1 and 10000")
        return self

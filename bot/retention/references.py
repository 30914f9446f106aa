"""The other features' tables, by name, and what in them keeps an alert group alive.

A feature that adds a table referring to alert groups adds its "still needs it" condition
to `GROUP_REFERRERS`; a test walks the schema and fails on a foreign key to alert_groups
that no condition here names, so a new referrer cannot be pruned from under by accident.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, column, select, table

from bot.storage.models import AlertGroup

escalation_steps = table("escalation_steps", column("group_id"), column("state"))
pagerduty_pages = table("pagerduty_pages", column("group_id"), column("state"))
pagerduty_incidents = table(
    "pagerduty_incidents",
    column("id"),
    column("group_id"),
    column("status"),
    column("updated_at"),
)
runbook_checklists = table("runbook_checklists", column("id"), column("alert_group_id"))
runbook_step_progress = table("runbook_step_progress", column("checklist_id"), column("state"))
operations = table(
    "operations",
    column("id"),
    column("request_id"),
    column("service"),
    column("environment"),
    column("status"),
    column("finished_at"),
)
incident_groups = table("incident_groups", column("group_id"))
approval_requests = table("approval_requests", column("id"), column("status"), column("updated_at"))

# Each: true while that row still needs the group (correlated to alert_groups.id).
GROUP_REFERRERS: tuple[ColumnElement[bool], ...] = (
    # A step still to run (a resolved group should have none; a stuck one is kept to see).
    (escalation_steps.c.group_id == AlertGroup.id) & (escalation_steps.c.state == "pending"),
    # A page not yet delivered to PagerDuty.
    (pagerduty_pages.c.group_id == AlertGroup.id) & (pagerduty_pages.c.state == "pending"),
    # An incident PagerDuty still has open for it.
    (pagerduty_incidents.c.group_id == AlertGroup.id)
    & (pagerduty_incidents.c.status != "resolved"),
    # A declared incident: its timeline and postmortem are built from its groups.
    incident_groups.c.group_id == AlertGroup.id,
    # A runbook step still running against the group's service.
    (runbook_checklists.c.alert_group_id == AlertGroup.id)
    & runbook_checklists.c.id.in_(
        select(runbook_step_progress.c.checklist_id).where(
            runbook_step_progress.c.state == "running"
        )
    ),
)

# Foreign keys to alert_groups that GROUP_REFERRERS accounts for (the schema test's list).
REFERRING_TABLES = frozenset(
    {
        "alerts",
        "escalation_steps",
        "pagerduty_pages",
        "pagerduty_incidents",
        "runbook_checklists",
        "incident_groups",
    }
)

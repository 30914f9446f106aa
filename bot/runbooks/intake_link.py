"""Linking a runbook to an alert group at intake, before its message is rendered.

Runs as a GroupListener inside the intake transaction, so the first message already shows
the Runbook button (or says that no runbook covers the alert). A linked runbook stays
linked: the checklist's progress belongs to it, even if a later notification's labels
would pick another one.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from alerts.policy import DefaultPriorityRules, PriorityRules
from alerts.runbooks import RunbookLink, RunbookSet, link_runbook
from bot.alerts.events import Change
from bot.audit import trail
from bot.runbooks.store import alert_data
from bot.storage.models import AlertGroup

log = logging.getLogger(__name__)

# The names come from annotations (outside text): enough of one to find it, not a page.
MAX_LOGGED_NAME = 100


class RunbookLinker:
    def __init__(self, runbooks: RunbookSet, rules: PriorityRules | None = None) -> None:
        self.runbooks = runbooks
        # The same derivation intake uses, so `priority` in applies_to means the posted one.
        self.rules: PriorityRules = rules or DefaultPriorityRules()

    async def group_changed(
        self, session: AsyncSession, group: AlertGroup, change: Change, now: datetime, actor: str
    ) -> None:
        if group.runbook_id is not None or change not in ("opened", "updated", "refired"):
            return
        link = await self.link(session, group)
        if link.dangling:
            log.warning(
                "alert group %s names runbook(s) %s that are not loaded",
                group.id,
                ", ".join(name[:MAX_LOGGED_NAME] for name in link.dangling),
            )
        if link.runbook is None:
            return
        group.runbook_id = link.runbook.id
        trail.record(
            session,
            at=now,
            actor=trail.SYSTEM,
            action="runbook.linked",
            subject=f"alert-group:{group.id}",
            runbook=link.runbook.id,
            linked_by=link.linked_by,
        )

    async def link(self, session: AsyncSession, group: AlertGroup) -> RunbookLink:
        """What the group's shared labels and annotations link to, else its first alert that
        links to anything (alerts are read firing first)."""
        alerts, labels, annotations = await alert_data(session, group)
        found = link_runbook(labels, annotations, self.runbooks, self.rules)
        dangling = list(found.dangling)
        if found.runbook is None:
            for alert_labels, alert_annotations in alerts:
                candidate = link_runbook(alert_labels, alert_annotations, self.runbooks, self.rules)
                dangling.extend(d for d in candidate.dangling if d not in dangling)
                if candidate.runbook is not None:
                    found = candidate
                    break
        return RunbookLink(found.runbook, found.linked_by, tuple(dangling))

"""Whether Alertmanager still reports a group's firing alerts, asked before a page.

Alertmanager leaves silenced and inhibited alerts out of a group's later notifications
(bot/alerts/notification.py marks them no longer reported), but when every alert of a
group is muted it sends no notification at all (seen with Debian's 0.25): the bot would
still hold them as firing and page for them. So before a page, when ALERTMANAGER_URL is
set, the bot asks Alertmanager which of the group's firing alerts it holds as silenced or
inhibited; when that is all of them, they are marked no longer reported and the page is
skipped (bot/escalation/engine.py), to go out at once if a notification reports them
firing again. When Alertmanager cannot say, the page goes: one page too many is better
than a missed one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actions.alertmanager import (
    MUTED_STATES,
    AlertmanagerClient,
    SilenceError,
    equality_matchers,
)
from alerts.alertmanager import UNREPORTED
from alerts.config import AlertsConfig
from alerts.silences import shared_labels
from bot.alerts.groups import refresh_message
from bot.storage.models import Alert, AlertGroup

log = logging.getLogger(__name__)

# A page asks about this many firing alerts at most; a bigger group is paged as it is
# (one answer of thousands of alerts is not worth holding the page for).
MAX_ASKED = 500


class AlertmanagerMutes:
    def __init__(
        self, client: Callable[[], AlertmanagerClient | None], config: AlertsConfig
    ) -> None:
        self._client = client
        self._config = config

    async def __call__(
        self, session: AsyncSession, group: AlertGroup, now: datetime
    ) -> bool | None:
        """True when Alertmanager holds every alert of the group the bot holds as firing
        or no longer reported as muted (the firing ones are then marked no longer
        reported); False when it holds one of them active (those are marked firing
        again: a silence that ended is not notified until repeat_interval); None when
        it cannot say or is not asked."""
        client = self._client()
        if client is None or (group.source or "alertmanager") != "alertmanager":
            return None  # Grafana's silences live in Grafana, not at ALERTMANAGER_URL
        rows = (
            await session.scalars(
                select(Alert)
                .where(Alert.group_id == group.id, Alert.status.in_(("firing", UNREPORTED)))
                .limit(MAX_ASKED + 1)
            )
        ).all()
        if not rows or len(rows) > MAX_ASKED:
            return None
        labels = shared_labels((row.labels for row in rows), group.common_labels)
        if not labels:
            return None
        matchers = equality_matchers(labels)
        try:
            muted = await client.fingerprints_matching(matchers, MUTED_STATES)
            active = await client.fingerprints_matching(matchers, ("active",))
        except SilenceError as exc:
            log.warning("could not ask Alertmanager before paging group %s: %s", group.id, exc)
            return None
        if any(row.fingerprint in active for row in rows):
            changed = [r for r in rows if r.fingerprint in active and r.status == UNREPORTED]
            verdict = False
            status = "firing"
        elif all(row.fingerprint in muted for row in rows):
            changed = [r for r in rows if r.status == "firing"]
            verdict, status = True, UNREPORTED
        else:
            return None  # some are gone from Alertmanager: its next notification says
        for row in changed:
            row.status = status
            row.updated_at = now
        if changed:
            await refresh_message(session, group, self._config, now)
        return verdict

"""Expiring a silence the bot made once it silences an alert it was not made for.

A silence is checked for breadth when it is made, against the alerts Alertmanager holds
then; a decoy alert with few labels pushed first makes a silence that matches the next
real alert carrying those labels and more (alerts/silences.py). Every few seconds the
bot asks Alertmanager which alerts its silences silence; one that silences an alert
outside the fingerprints it names is expired, and the groups it was made for say so in
their threads. Alertmanager mutes at notification time (after `group_wait`, 30 s by
default), so a silence expired within seconds still lets the new alert notify.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.alertmanager import AlertmanagerClient, SilenceError
from alerts import messages as m
from alerts.slack_text import inline_code
from bot.alerts.groups import reply
from bot.audit import trail
from bot.clock import Clock
from bot.storage.models import Alert, AlertGroup

log = logging.getLogger(__name__)

# Often enough to beat Alertmanager's default group_wait (30 s) many times over, rarely
# enough that two list calls every few seconds cost Alertmanager nothing.
INTERVAL = 5.0
MAX_NAMES = 3  # alert names quoted in the thread note


class SilenceWatch:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        alertmanager: Callable[[], AlertmanagerClient | None],
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._alertmanager = alertmanager
        self._clock = clock

    async def check(self) -> int:
        """Expire each of the bot's silences that silences an alert it was not made for;
        returns how many were expired."""
        client = self._alertmanager()
        if client is None:
            return 0
        expired = 0
        for silence_id, (made_for, others) in (await client.silences_beyond_their_alerts()).items():
            try:
                await client.expire_silence(silence_id)
            except SilenceError as exc:  # another replica may have expired it first
                log.info("could not expire silence %s: %s", silence_id, exc)
                continue
            expired += 1
            log.warning(
                "silence %s expired: it silenced %d alert(s) it was not made for",
                silence_id,
                len(others),
            )
            await self._tell(silence_id, made_for, others)
        return expired

    async def _tell(
        self, silence_id: str, made_for: frozenset[str], others: dict[str, str]
    ) -> None:
        now = self._clock.now()
        names = sorted({name for name in others.values() if name})[:MAX_NAMES]
        text = m.THREAD_SILENCE_WIDENED.format(
            silence_id=silence_id,
            count=len(others),
            names=", ".join(inline_code(n) for n in names) or "no alertname",
        )
        async with self._sessions.begin() as session:
            group_ids = (
                await session.scalars(
                    select(Alert.group_id).where(Alert.fingerprint.in_(sorted(made_for))).distinct()
                )
            ).all()
            for group_id in sorted(group_ids):
                group = await session.get(AlertGroup, group_id)
                if group is None:
                    continue
                await reply(session, group, text, now)
                trail.record(
                    session,
                    at=now,
                    actor=trail.SYSTEM,
                    action="alert.silence.expired",
                    subject=f"alert-group:{group_id}",
                    silence_id=silence_id,
                    reason="silenced alerts it was not made for",
                    others=sorted(others)[:20],
                )

    async def run(self, interval: float = INTERVAL) -> None:
        while True:
            try:
                await self.check()
            except SilenceError as exc:
                log.info("silence check: %s", exc)
            except Exception:
                log.exception("silence check failed; retrying")
            await asyncio.sleep(interval)

"""A notification answered 2xx is never dropped: a delivery whose processing fails is
retried, then kept as failed, counted and announced in its channel, and
`chatops deliveries retry` brings it to Slack. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bot import cli
from bot.alerts.deliveries import MAX_ATTEMPTS, retry_delay
from bot.storage.models import AlertGroup, WebhookDelivery
from tests.escalation.conftest import Bot, pd_server, start_bot
from tests.support.payloads import notification, resolved

__all__ = ["pd_server", "start_bot"]

ANNOUNCED = (
    "1 notification from Alertmanager could not be shown: RuntimeError: listener broke, "
    "see `chatops deliveries show 1`"
)


class Breakable:
    """A group listener (as features are) that fails while `broken` is set."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error or RuntimeError("listener broke")
        self.broken = True

    async def group_changed(self, session: Any, group: AlertGroup, *args: Any) -> None:
        if self.broken and "DiskFull" in str(group.group_key_text):
            raise self.error


async def deliveries(bot: Bot) -> list[WebhookDelivery]:
    async with bot.service.sessions() as session:
        rows = await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        return list(rows.all())


def metric(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name))
    return float(line.split()[-1])


def texts(bot: Bot, channel: str = "C0000ALERT") -> list[str]:
    return [message.text for message in bot.emulator.messages(channel)]


async def run_cli(monkeypatch: pytest.MonkeyPatch, database_url: str, *argv: str) -> int:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return await asyncio.to_thread(cli.main, list(argv))


async def test_a_failing_delivery_is_retried_then_kept_announced_counted_and_replayable(
    database_url: str,
    start_bot: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bot: Bot = await start_bot(database_url)
    listener = Breakable()
    bot.service.group_listeners.append(listener)
    await bot.fire(notification())  # answered 2xx, then processing fails

    tried_at: list[datetime] = []
    for attempt in range(1, MAX_ATTEMPTS):
        [row] = await deliveries(bot)
        assert (row.state, row.attempts) == ("pending", attempt)
        assert row.next_attempt_at == bot.now() + retry_delay(attempt)
        assert texts(bot) == []  # nothing shown, nothing announced yet
        tried_at.append(bot.now())
        await bot.at(row.next_attempt_at - bot.started)
    [row] = await deliveries(bot)
    assert (row.state, row.outcome, row.attempts) == ("failed", "error", MAX_ATTEMPTS)
    assert row.error is not None and "RuntimeError: listener broke" in row.error
    assert [b - a for a, b in pairwise(tried_at)] == [
        retry_delay(n) for n in range(1, MAX_ATTEMPTS - 1)
    ]  # backoff doubles
    assert texts(bot) == [f"⚠️ {ANNOUNCED}"]
    metrics = await bot.metrics()
    assert metric(metrics, 'chatops_webhook_deliveries_failed_total{source="alertmanager"}') == 1
    assert metric(metrics, 'chatops_webhook_delivery_retries_total{source="alertmanager"}') == 4
    assert metric(metrics, 'chatops_webhook_deliveries_processed_total{outcome="error"}') == 1

    await bot.at(timedelta(hours=1))  # announced once, not at every pass
    assert len(texts(bot)) == 1

    assert await run_cli(monkeypatch, database_url, "deliveries", "list") == 0
    listed = capsys.readouterr().out
    assert "failed" in listed and "RuntimeError: listener broke" in listed
    assert await run_cli(monkeypatch, database_url, "deliveries", "show", "1") == 0
    shown = capsys.readouterr().out
    assert "attempts:     5" in shown and '"groupKey"' in shown

    listener.broken = False  # the bug is fixed; replay the delivery
    assert await run_cli(monkeypatch, database_url, "deliveries", "retry", "1", "--wait", "0") == 0
    await bot.tick()
    [row] = await deliveries(bot)
    assert (row.state, row.outcome, row.error) == ("done", "new", None)
    [_announcement, alert] = bot.emulator.messages("C0000ALERT")
    assert "DiskFull" in str(alert.blocks) and "Disk 0 almost full" in alert.text
    assert await run_cli(monkeypatch, database_url, "deliveries", "retry", "1", "--wait", "0") == 1
    assert "processed already" in capsys.readouterr().err


async def test_a_groups_later_notifications_wait_behind_its_retry_others_do_not(
    sqlite_url: str, start_bot: Any
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    listener = Breakable()
    bot.service.group_listeners.append(listener)
    firing = notification()
    await bot.fire(firing)
    await bot.fire(resolved(firing))  # same group: must not overtake the first
    await bot.fire(notification('{}:{alertname="Other"}', labels={"alertname": "Other"}))
    states = [(r.state, r.outcome) for r in await deliveries(bot)]
    assert states == [("pending", None), ("pending", None), ("done", "new")]

    listener.broken = False  # the retry works: the group's notifications apply in order
    await bot.at(retry_delay(1))
    states = [(r.state, r.outcome) for r in await deliveries(bot)]
    assert states == [("done", "new"), ("done", "resolved"), ("done", "new")]


async def test_a_database_error_leaves_the_delivery_pending_uncounted(
    sqlite_url: str, start_bot: Any
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    bot.service.group_listeners.append(
        Breakable(OperationalError("SELECT 1", {}, Exception("server closed the connection")))
    )
    with pytest.raises(SQLAlchemyError):
        await bot.fire(notification())
    [row] = await deliveries(bot)
    assert (row.state, row.attempts, row.next_attempt_at) == ("pending", 0, None)
    assert texts(bot) == []

"""Retention on SQLite and PostgreSQL, in virtual time: exactly what is past its retention
goes, and nothing that something still refers to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from bot.approvals.models import ApprovalRequestRow
from bot.config import ConfigError, parse_config
from bot.operations.models import OperationRow
from bot.pagerduty.models import PagerDutyPage
from bot.retention.references import REFERRING_TABLES
from bot.storage.models import (
    Alert,
    AlertGroup,
    Base,
    OutboxEntry,
    SlackMessage,
    WebhookDelivery,
)
from tests.escalation.conftest import Bot, pd_server, start_bot
from tests.support.payloads import notification, resolved

__all__ = ["pd_server", "start_bot"]

DAY = timedelta(days=1)


def warning(name: str) -> dict[str, Any]:
    return notification(group_key=f'{{}}:{{alertname="{name}"}}', labels={"alertname": name})


async def count(bot: Bot, model: Any, *where: Any) -> int:
    async with bot.service.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def group_id(bot: Bot, name: str) -> int:
    async with bot.service.sessions() as session:
        found = await session.scalar(select(Alert.group_id).where(Alert.alertname == name))
    assert found is not None
    return int(found)


async def test_prune_removes_what_is_past_retention_and_keeps_what_is_referred_to(
    database_url: str, start_bot: object
) -> None:
    bot: Bot = await start_bot(database_url)  # type: ignore[operator]
    for name in ("OldResolved", "StillFiring", "PagePending"):
        await bot.fire(warning(name))
    await bot.fire(resolved(warning("OldResolved")))
    await bot.fire(resolved(warning("PagePending")))
    old, firing, paged = [
        await group_id(bot, n) for n in ("OldResolved", "StillFiring", "PagePending")
    ]
    now = bot.now()
    async with bot.service.sessions.begin() as session:
        # A resolve page PagerDuty has not taken yet: its group must stay.
        session.add(
            PagerDutyPage(
                group_id=paged,
                action="resolve",
                dedup_key=f"chatops:group:{paged}",
                route_ref="default",
                payload={},
                state="pending",
                not_before=now,
                created_at=now,
            )
        )
        # An unsent Slack call is never pruned, however old (recovery needs it).
        session.add(
            OutboxEntry(
                op="post",
                channel="C0000ALERT",
                payload={"text": "queued"},
                state="pending",
                not_before=now + 400 * DAY,
                created_at=now,
            )
        )
        # Two finished deploys of one target: the newest is the rollback baseline.
        for request, finished in (("R-OLD", now), ("R-NEW", now + DAY)):
            session.add(
                ApprovalRequestRow(
                    id=request,
                    service="api",
                    environment="staging",
                    channel="C0000DEPLY",
                    status="Succeeded",
                    data={},
                    created_at=finished,
                    expires_at=finished,
                    updated_at=finished,
                )
            )
            session.add(
                OperationRow(
                    request_id=request,
                    service="api",
                    environment="staging",
                    kind="deploy",
                    status="succeeded",
                    plan={},
                    started_at=finished,
                    finished_at=finished,
                )
            )
        session.add(
            ApprovalRequestRow(
                id="R-REJECTED",
                service="api",
                environment="production",
                channel="C0000DEPLY",
                status="Rejected",
                data={},
                created_at=now,
                expires_at=now,
                updated_at=now,
            )
        )
    sent_before = await count(bot, OutboxEntry, OutboxEntry.state == "sent")
    assert sent_before > 0 and await count(bot, WebhookDelivery) == 5

    # Six days on: everything is younger than every retention; nothing goes.
    bot.running.clock.advance(6 * DAY)
    assert (await bot.service.pruner.prune()).total == 0

    # 92 days on: bodies (7d), sent calls (7d) and the resolved group (90d) are past theirs.
    bot.running.clock.advance(86 * DAY)
    pruned = await bot.service.pruner.prune()
    assert pruned.rows["webhook_deliveries"] == 5
    assert pruned.rows["slack_outbox"] == sent_before
    assert pruned.rows["alert_groups"] == 1
    async with bot.service.sessions() as session:
        kept = set((await session.scalars(select(AlertGroup.id))).all())
        keys = set((await session.scalars(select(SlackMessage.key))).all())
    assert kept == {firing, paged}, "a firing group or one with a pending page was pruned"
    assert f"alert-group:{old}" not in keys and f"alert-group:{firing}" in keys
    assert await count(bot, Alert, Alert.group_id == old) == 0  # its alerts went with it
    assert await count(bot, OutboxEntry, OutboxEntry.state == "pending") == 1
    assert await count(bot, OperationRow) == 2  # a year is not over yet

    # Past a year: the older deploy and its request go, the baseline and its request stay.
    bot.running.clock.advance(300 * DAY)
    pruned = await bot.service.pruner.prune()
    assert pruned.rows["operations"] == 1 and pruned.rows["approval_requests"] == 2
    async with bot.service.sessions() as session:
        assert (await session.scalars(select(OperationRow.request_id))).all() == ["R-NEW"]
        assert (await session.scalars(select(ApprovalRequestRow.id))).all() == ["R-NEW"]
    # A second pass finds nothing more.
    assert (await bot.service.pruner.prune()).total == 0


async def test_the_timer_holder_prunes_on_its_pass_and_counts_it_on_metrics(
    sqlite_url: str, start_bot: object
) -> None:
    bot: Bot = await start_bot(sqlite_url)  # type: ignore[operator]
    await bot.fire(warning("Gone"))
    await bot.fire(resolved(warning("Gone")))
    bot.running.clock.advance(91 * DAY)
    await bot.service.escalation.run_once()  # the timer holder's pass runs the timer jobs
    assert await count(bot, AlertGroup) == 0
    metrics = await bot.metrics()
    assert 'chatops_retention_pruned_rows_total{table="alert_groups"} 1.0' in metrics
    assert 'chatops_retention_pruned_rows_total{table="webhook_deliveries"} 2.0' in metrics
    assert "chatops_retention_last_prune_timestamp_seconds 0.0" not in metrics


def test_every_table_that_refers_to_alert_groups_is_accounted_for_by_retention() -> None:
    """A new table with a foreign key to alert_groups must say, in bot/retention/references.py,
    when it still needs its group; otherwise pruning could remove the group from under it."""
    import bot.service  # noqa: F401  (every feature's models registered)

    referring = {
        table.name
        for table in Base.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "alert_groups"
    }
    assert referring == set(REFERRING_TABLES)
    assert inspect(AlertGroup).local_table.name == "alert_groups"


@pytest.mark.parametrize(
    ("retention", "says"),
    [
        (
            "{webhook_bodies: 7d, failed_webhooks: 1d}",
            "retention.failed_webhooks is shorter than retention.webhook_bodies",
        ),
        ("{outbox: 5m}", "retention.outbox must be at least 1h"),
        ("{webhook_bodies: 10m}", "retention.webhook_bodies must be at least 1h"),
    ],
)
def test_check_config_refuses_a_retention_shorter_than_what_needs_it(
    retention: str, says: str
) -> None:
    text = f"alerts:\n  routes:\n    - channel: C0000ALERT\nretention: {retention}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert any(says in problem for problem in caught.value.problems), caught.value.problems


def test_check_config_refuses_group_retention_shorter_than_the_reports_comparison() -> None:
    text = (
        "alerts:\n  routes:\n    - channel: C0000ALERT\n"
        "report: {channel: C0000OPSRP}\n"
        "retention: {alert_groups: 7d}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    [problem] = caught.value.problems
    assert "retention.alert_groups" in problem and "report.every" in problem

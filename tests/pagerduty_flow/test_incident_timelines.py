"""PagerDuty incident timelines on our own pages, through the real webhook endpoint.

A P1 (page after 5 minutes, re-notify every 15) is paged, then changed in PagerDuty:
acknowledged, unacknowledged (nobody holds it: our escalation starts again and the next
page follows the policy, once), resolved, reopened, delegated. The Slack message must
be right after every step.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.escalation.conftest import WEBHOOK_SECRET, Bot
from tests.support.payloads import notification

MIN = timedelta(minutes=1)
ADA = {"id": "PUSER01", "type": "user_reference", "summary": "Ada Lovelace"}
GRACE = {"id": "PUSER02", "type": "user_reference", "summary": "Grace Hopper"}
DATABASE_POLICY = {
    "id": "PDBPOL1",
    "type": "escalation_policy_reference",
    "summary": "Database Team",
}


def p1() -> dict[str, Any]:
    return notification(labels={"alertname": "ErrorRate", "severity": "error"})


async def in_pagerduty(
    bot: Bot,
    event_type: str,
    status: str,
    *,
    agent: dict[str, Any] | None = ADA,
    **changes: Any,
) -> str:
    """Change our page's incident in PagerDuty and deliver the webhook it sends."""
    incident = bot.pd.incidents["chatops:group:1"]
    incident.status = status
    data = {**bot.pd.webhook_data(incident, assignees=changes.pop("assignees", [])), **changes}
    code, body = await bot.pd.send_webhook(
        f"{bot.url}/webhooks/pagerduty", event_type, data, WEBHOOK_SECRET, agent=agent
    )
    assert code == 200, body
    await bot.tick()
    return str(json.loads(body)["status"])


def shown(bot: Bot) -> str:
    [message] = bot.emulator.messages("C0000ALERT")
    current = bot.emulator.message("C0000ALERT", message.ts)
    assert current is not None
    return json.dumps(current.blocks, ensure_ascii=False)


async def test_page_ack_unack_resolve_reopen_delegate(database_url: str, start_bot) -> None:
    bot: Bot = await start_bot(database_url)
    await bot.fire(p1())
    await bot.at(5 * MIN)
    assert len(bot.events("trigger")) == 1
    assert "Paged PagerDuty" in shown(bot)

    await bot.at(6 * MIN)
    assert await in_pagerduty(bot, "incident.acknowledged", "acknowledged", assignees=[ADA]) == (
        "acknowledged"
    )
    assert "Acknowledged in PagerDuty by Ada Lovelace" in shown(bot)
    assert "alert.ack" not in shown(bot)

    # The acknowledgement timed out in PagerDuty: nobody holds it, so we escalate again.
    await bot.at(10 * MIN)
    assert await in_pagerduty(bot, "incident.unacknowledged", "triggered", agent=None) == (
        "unacknowledged"
    )
    message = shown(bot)
    assert "Unacknowledged in PagerDuty" in message and "Acknowledged in" not in message
    assert "alert.ack" in message  # the Acknowledge button is back
    assert bot.replies("C0000ALERT", "escalation restarted")
    await bot.at(12 * MIN)
    await in_pagerduty(bot, "incident.unacknowledged", "triggered", agent=None)  # said twice
    await bot.at(14 * MIN)
    assert len(bot.events("trigger")) == 1
    await bot.at(15 * MIN)  # page_after 5m from the unacknowledgement
    assert len(bot.events("trigger")) == 2
    await bot.at(24 * MIN)
    assert len(bot.events("trigger")) == 2  # the same step never pages twice
    assert len(bot.replies("C0000ALERT", "Still firing")) == 0
    await bot.at(25 * MIN)  # renotify_every 15m from the unacknowledgement
    assert len(bot.replies("C0000ALERT", "Still firing")) == 1

    await bot.at(26 * MIN)
    assert await in_pagerduty(bot, "incident.resolved", "resolved") == "resolved"
    assert "Resolved in PagerDuty by Ada Lovelace" in shown(bot)
    await bot.at(45 * MIN)
    assert len(bot.replies("C0000ALERT", "Still firing")) == 1  # stopped

    await bot.at(46 * MIN)
    assert await in_pagerduty(bot, "incident.reopened", "triggered") == "reopened"
    message = shown(bot)
    assert "Reopened in PagerDuty by Ada Lovelace" in message
    assert "Resolved in PagerDuty" not in message
    assert bot.replies("C0000ALERT", "Reopened in PagerDuty by Ada Lovelace")
    await bot.at(51 * MIN)
    assert len(bot.events("trigger")) == 3

    await bot.at(52 * MIN)
    outcome = await in_pagerduty(
        bot,
        "incident.delegated",
        "triggered",
        assignees=[GRACE],
        escalation_policy=DATABASE_POLICY,
    )
    assert outcome == "delegated"
    message = shown(bot)
    assert "Delegated to Database Team" in message and "Assigned to Grace Hopper" in message
    assert bot.replies("C0000ALERT", "Delegated in PagerDuty to Database Team (Grace Hopper)")
    await bot.at(90 * MIN)  # PagerDuty's policy holds it now: our steps stopped
    assert len(bot.replies("C0000ALERT", "Still firing")) == 1
    assert len(bot.events("trigger")) == 3


async def test_reassigned_and_priority_updated_show_who_holds_it(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await bot.fire(p1())
    await bot.at(5 * MIN)

    await in_pagerduty(bot, "incident.reassigned", "triggered", assignees=[GRACE])
    assert "Reassigned to Grace Hopper" in shown(bot)
    assert bot.replies("C0000ALERT", "Reassigned in PagerDuty to Grace Hopper")

    priority = {"id": "PSO75BM", "type": "priority_reference", "summary": "P1"}
    await in_pagerduty(
        bot, "incident.priority_updated", "triggered", assignees=[GRACE], priority=priority
    )
    message = shown(bot)
    assert "PagerDuty priority P1" in message and "Reassigned to Grace Hopper" in message
    assert bot.replies("C0000ALERT", "PagerDuty priority set to P1 by Ada Lovelace")

    note = bot.pd.webhook_data(bot.pd.incidents["chatops:group:1"])
    code, _ = await bot.pd.send_webhook(
        f"{bot.url}/webhooks/pagerduty",
        "incident.annotated",
        {
            "incident": {"id": note["id"], "type": "incident_reference"},
            "id": "PNOTE01",
            "type": "incident_note",
            "content": "Rolled back <!channel> see <https://evil.example|runbook>",
            "trimmed": False,
        },
        WEBHOOK_SECRET,
        agent=GRACE,
    )
    assert code == 200
    await bot.tick()
    [reply] = bot.replies("C0000ALERT", "Note in PagerDuty from Grace Hopper")
    assert "Rolled back &lt;!channel&gt; see &lt;https://evil.example|runbook&gt;" in reply


async def test_a_slack_acknowledgement_after_an_unacknowledgement_reaches_pagerduty(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await bot.fire(p1())
    await bot.at(5 * MIN)
    await in_pagerduty(bot, "incident.acknowledged", "acknowledged")
    await in_pagerduty(bot, "incident.unacknowledged", "triggered", agent=None)
    assert bot.events("acknowledge") == []  # PagerDuty's own acknowledgement is not echoed

    await bot.at(10 * MIN)
    assert len(bot.events("trigger")) == 2  # paged again, same dedup_key

    await bot.ack_in_slack("C0000ALERT")
    await bot.at(11 * MIN)

    assert len(bot.events("acknowledge")) == 1  # one per PagerDuty incident
    assert bot.pd.incidents["chatops:group:1"].status == "acknowledged"


async def test_a_p0_unacknowledged_in_pagerduty_pages_again_at_once(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await bot.fire(notification(labels={"alertname": "ApiDown", "severity": "critical"}))
    assert len(bot.events("trigger")) == 1  # P0: page_after 0s
    await bot.at(2 * MIN)
    incident = bot.pd.incidents["chatops:group:1"]
    for event_type, status in (
        ("incident.acknowledged", "acknowledged"),
        ("incident.unacknowledged", "triggered"),
    ):
        incident.status = status
        code, _ = await bot.pd.send_webhook(
            f"{bot.url}/webhooks/pagerduty",
            event_type,
            bot.pd.webhook_data(incident),
            WEBHOOK_SECRET,
            agent=ADA,
        )
        assert code == 200
        await bot.tick()

    assert len(bot.events("trigger")) == 2  # the P0 policy pages at once, once
    [message] = bot.emulator.messages("C0000INCID")
    assert bot.emulator.replies("C0000INCID", message.ts)
    await bot.at(6 * MIN)
    assert bot.replies("C0000INCID", "Still firing") == []
    await bot.at(7 * MIN)  # renotify_every 5m from the unacknowledgement
    assert len(bot.replies("C0000INCID", "Still firing")) == 1
    assert len(bot.events("trigger")) == 2


async def test_a_note_on_an_incident_never_seen_is_accepted_and_changes_nothing(
    sqlite_url: str, start_bot
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    code, body = await bot.pd.send_webhook(
        f"{bot.url}/webhooks/pagerduty",
        "incident.annotated",
        {"incident": {"id": "PUNSEEN"}, "id": "PNOTE02", "type": "incident_note", "content": "x"},
        WEBHOOK_SECRET,
        agent=ADA,
    )
    await bot.tick()

    assert (code, json.loads(body)["status"]) == (200, "unknown_incident")
    assert bot.emulator.calls("chat.postMessage") == []

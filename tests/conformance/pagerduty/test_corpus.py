"""PagerDuty's documented v3 webhook payloads, one per event type, plus real-world variants.

The payloads under payloads/ are written from the shapes PagerDuty's webhook
documentation shows (the `incident`, `incident_note`, `incident_status_update`,
`incident_responder` and `incident_conference_bridge` data types) and from what real
deliveries carried in 2021 (no `created_at`, a conference number that is not a string),
plus fields and enum values PagerDuty may add. Each one is signed as PagerDuty signs,
posted to the bot's real endpoint, must be answered 2xx (three 4xx in a row disable the
subscription) and must show in Slack (the emulator) as the event means.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from alerts.config import PagerDutyConfig
from alerts.pagerduty import ROUTED_EVENT_TYPES
from bot.pagerduty.signature import sign
from tests.escalation.conftest import WEBHOOK_SECRET, Bot

PAYLOADS = Path(__file__).parent / "payloads"
CHANNEL = "C0000INCID"

# payload file -> (texts the incident's message shows, texts it must not show,
#                  texts its thread shows)
EXPECTED: dict[str, tuple[list[str], list[str], list[str]]] = {
    "incident.triggered": (
        ["A little bump in the road", "TRIGGERED", "User 123", "Default", "P1", "pagerduty.ack"],
        [],
        [],
    ),
    "incident.acknowledged": (
        ["ACKNOWLEDGED", "Acknowledged in PagerDuty by Tenex Engineer", "pagerduty.resolve"],
        ['pagerduty.ack"'],
        [],
    ),
    "incident.unacknowledged": (
        ["TRIGGERED", "Unacknowledged in PagerDuty", "pagerduty.ack"],
        [],
        ["Unacknowledged in PagerDuty"],
    ),
    "incident.resolved": (
        ["RESOLVED", "Resolved in PagerDuty by Tenex Engineer"],
        ["pagerduty.resolve"],
        ["Resolved in PagerDuty by Tenex Engineer"],
    ),
    "incident.reopened": (
        ["TRIGGERED", "Reopened in PagerDuty by Tenex Engineer", "pagerduty.ack"],
        [],
        ["Reopened in PagerDuty by Tenex Engineer"],
    ),
    "incident.reassigned": (["Reassigned to Maeve", "*Assigned*\\nMaeve"], ["User 123"], ["Maeve"]),
    "incident.delegated": (
        ["Delegated to The Policy", "*Escalation policy*\\nThe Policy", "*Assigned*\\nMaeve"],
        [],
        ["Delegated in PagerDuty to The Policy (Maeve)"],
    ),
    "incident.escalated": (["Escalated to Maeve"], [], ["Escalated in PagerDuty to Maeve"]),
    "incident.priority_updated": (
        ["*Priority*\\nP2"],
        ["*Priority*\\nP1"],
        ["PagerDuty priority set to P2 by Tenex Engineer"],
    ),
    "incident.service_updated": (
        ["Payments Service"],
        [],
        ["Moved to PagerDuty service Payments Service"],
    ),
    "incident.annotated": ([], [], ["Tenex Engineer", "I sure am glad we are using PagerDuty!"]),
    "incident.status_update_published": ([], [], ["A fix for this incident is being developed"]),
    "incident.responder.added": (
        [],
        [],
        ["Tenex Engineer asked Maeve to respond", "Please help me make the tests pass"],
    ),
    "incident.responder.replied": ([], [], ["Maeve accepted the request to respond"]),
    "incident.conference_bridge.updated": (
        [],
        [],
        ["https://meet.example.com/bridge-42|Join the bridge", "+1 555-0100,,123#"],
    ),
    "service.updated": ([], [], []),
    "variant.2021-no-created-at": (["Acknowledged in PagerDuty by Tenex Engineer"], [], []),
    "variant.2021-resolved-minimal": (
        ["RESOLVED", "Resolved in PagerDuty by Tenex Engineer"],
        [],
        [],
    ),
    "variant.conference-number-not-a-string": (
        ["Acknowledged in PagerDuty by Tenex Engineer"],
        [],
        [],
    ),
    "variant.unknown-fields": (["Acknowledged in PagerDuty by Tenex Engineer"], [], []),
    "variant.unknown-enum-values": (
        ["ACKNOWLEDGED", "Acknowledged in PagerDuty by Tenex Engineer", "SEV-1"],
        [],
        [],
    ),
    "variant.unknown-event-type": ([], [], []),
}
IGNORED = {"service.updated", "variant.unknown-event-type"}


def load(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


async def post(bot: Bot, body: bytes) -> tuple[int, dict[str, Any]]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "PagerDuty-Webhook/V3.0",
        "X-PagerDuty-Signature": sign(body, WEBHOOK_SECRET),
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{bot.url}/webhooks/pagerduty", data=body, headers=headers) as response,
    ):
        return response.status, await response.json()


@pytest.fixture
def start_routed(start_bot, example_config):  # type: ignore[no-untyped-def]
    config = example_config.model_copy(
        update={"pagerduty": PagerDutyConfig(services={"PF9KMXH": CHANNEL})}
    )

    async def start(database_url: str) -> Bot:
        bot: Bot = await start_bot(database_url, config=config)
        return bot

    return start


def test_the_corpus_has_one_payload_per_documented_event_type() -> None:
    names = {path.stem for path in PAYLOADS.glob("*.json")}
    assert names == set(EXPECTED)
    event_types = {json.loads(load(name))["event"]["event_type"] for name in names}
    assert event_types >= ROUTED_EVENT_TYPES  # every type the bot acts on


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_each_payload_is_accepted_and_shown_in_slack(
    name: str, sqlite_url: str, start_routed
) -> None:
    bot: Bot = await start_routed(sqlite_url)
    if name != "incident.triggered":
        # The incident appears before anything else happens to it: an event that occurred
        # before the last one applied to its incident is not applied (receipts.py).
        first = json.loads(load("incident.triggered"))
        first["event"]["occurred_at"] = "2021-05-31T10:00:00.000Z"
        status, _ = await post(bot, json.dumps(first).encode())
        assert status == 200
        await bot.running.settle()

    status, answer = await post(bot, load(name))

    assert 200 <= status < 300, answer
    await bot.running.settle()
    [message] = bot.emulator.messages(CHANNEL)
    shown = bot.emulator.message(CHANNEL, message.ts)
    assert shown is not None
    blocks = json.dumps(shown.blocks, ensure_ascii=False)
    present, absent, thread = EXPECTED[name]
    for text in present:
        assert text in blocks, f"{text!r} missing from the message"
    for text in absent:
        assert text not in blocks, f"{text!r} still in the message"
    replies = "\n".join(reply.text for reply in bot.emulator.replies(CHANNEL, message.ts))
    for text in thread:
        assert text in replies, f"{text!r} missing from the thread"
    if name in IGNORED:
        assert answer["status"] == "ignored"
        assert replies == ""


async def test_unknown_event_types_are_counted_as_other(sqlite_url: str, start_routed) -> None:
    bot: Bot = await start_routed(sqlite_url)
    for _ in range(2):
        body = json.loads(load("variant.unknown-event-type"))
        body["event"]["id"] += "x"  # a second delivery, not a retry
        status, _ = await post(bot, json.dumps(body).encode())
        assert status == 200
    status, _ = await post(bot, load("service.updated"))
    assert status == 200

    metrics = await bot.metrics()

    assert (
        'chatops_pagerduty_unknown_events_total{event_type="other"} 2.0' in metrics
    )  # one series for all of them: the type is outside text (it is in the log line)
    assert "incident.workflow.completed" not in metrics
    assert 'event_type="service.updated"' not in metrics  # documented, just not used
    assert 'reason="invalid"' not in metrics


async def test_outside_text_never_reaches_slack_raw(sqlite_url: str, start_routed) -> None:
    bot: Bot = await start_routed(sqlite_url)
    await post(bot, load("incident.triggered"))
    hostile = "<!channel> <@U0000APR01> <https://evil.example|Click here> & more"
    for name, field in (
        ("incident.annotated", "content"),
        ("incident.status_update_published", "message"),
        ("incident.responder.added", "message"),
    ):
        body = json.loads(load(name))
        body["event"]["data"][field] = hostile
        body["event"]["agent"]["summary"] = "<!here> Mallory"
        status, _ = await post(bot, json.dumps(body).encode())
        assert status == 200
    body = json.loads(load("incident.reassigned"))
    body["event"]["data"]["assignees"][0]["summary"] = "<!everyone>"
    await post(bot, json.dumps(body).encode())
    await bot.running.settle()

    calls = bot.emulator.calls("chat.postMessage") + bot.emulator.calls("chat.update")
    sent = json.dumps([call.args for call in calls], ensure_ascii=False)
    for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U0000APR01>", "<https://evil"):
        assert raw not in sent
    assert "&lt;!channel&gt;" in sent and "&amp; more" in sent

"""Text from alerts and PagerDuty reaches Slack as text: no mention, no disguised link.

Whoever can send an alert chooses its labels, annotations and URLs; whoever can open a
PagerDuty incident chooses its title. Every such field carries Slack markup here, and
every mrkdwn text and fallback `text` the bot sends (through the emulator) is checked
for markup the bot did not write itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from alerts import messages as m
from bot.config import Config
from bot.sandbox.emulator import SlackEmulator
from tests.escalation.conftest import WEBHOOK_SECRET, Bot, pd_server, start_bot
from tests.support.payloads import notification

__all__ = ["pd_server", "start_bot"]

EVIL = "<!channel> <!here> <@U0000APR01> <https://evil.example|Click to approve>"
EVIL_URL = "https://evil.example|Click to approve> <!here>"
# Links the bot writes itself carry one of these labels, never one from outside.
OWN_LABELS = {m.LINK_SOURCE, m.LINK_RUNBOOK_DOC, m.LINK_SILENCE, m.LINK_PAGERDUTY}
CONTROL = re.compile(r"<([^<>]*)>")


def mrkdwn_texts(payload: dict[str, Any]) -> Iterator[str]:
    """The fallback `text` and every mrkdwn string in the blocks of one Slack call."""
    yield str(payload.get("text") or "")
    blocks = payload.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    yield from _mrkdwn(blocks)


def _mrkdwn(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from _mrkdwn(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mrkdwn(item)


def foreign_markup(text: str) -> list[str]:
    """Slack control sequences in `text` that the bot did not write itself: anything but
    its dates, its configured mention and links to http(s) with one of its own labels."""
    found = []
    for inner in CONTROL.findall(text):
        target, bar, label = inner.partition("|")
        if target.startswith("!date^") or target == "!subteam^S0000ONCAL":
            continue
        if bar and label in OWN_LABELS and re.fullmatch(r"https?://[^\s|<>]+", target):
            continue
        found.append(f"<{inner}>")
    return found


def sent(emulator: SlackEmulator) -> list[dict[str, Any]]:
    methods = ("chat.postMessage", "chat.update", "chat.postEphemeral")
    return [c.args for c in emulator.calls() if c.method in methods and c.status == 200]


def assert_no_foreign_markup(emulator: SlackEmulator) -> str:
    calls = sent(emulator)
    assert calls, "nothing reached Slack"
    shown = []
    for args in calls:
        for text in mrkdwn_texts(args):
            assert foreign_markup(text) == [], text
            shown.append(text)
    return "\n".join(shown)


def hostile_group(name: str = "DiskFull", *, alerts: int = 2) -> dict[str, Any]:
    payload = notification(
        group_key=f'{{}}:{{alertname="{name}"}}',
        alerts=alerts,
        labels={
            "alertname": f"{name} {EVIL}",
            "service": EVIL,
            "namespace": EVIL,
            "pod": EVIL,
        },
        annotations={"summary": EVIL, "description": EVIL, "runbook_url": EVIL_URL},
    )
    payload["commonAnnotations"] = {"summary": EVIL, "runbook_url": EVIL_URL}
    payload["externalURL"] = EVIL_URL
    for alert in payload["alerts"]:
        alert["generatorURL"] = EVIL_URL
        alert["labels"]["instance"] = EVIL
    return payload


async def test_labels_annotations_and_urls_of_an_alert_cannot_mention_or_link(
    sqlite_url: str, start_bot: Any, emulator: SlackEmulator
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    await bot.fire(hostile_group())
    [message] = emulator.messages("C0000ALERT")
    text = assert_no_foreign_markup(emulator)
    # The words are shown, as text.
    assert "&lt;!channel&gt;" in text and "&lt;@U0000APR01&gt;" in text
    [post] = [c.args for c in emulator.calls("chat.postMessage")]
    assert "&lt;!here&gt;" in post["text"]  # the fallback text shows the summary, escaped
    # The links left are the bot's own, percent-encoded so nothing in them ends the link.
    links = [i for t in mrkdwn_texts(post) for i in CONTROL.findall(t) if i.startswith("http")]
    assert {link.split("|")[1] for link in links} == {
        m.LINK_SOURCE,
        m.LINK_RUNBOOK_DOC,
        m.LINK_SILENCE,
    }
    assert all("evil.example%7CClick%20to%20approve%3E" in link for link in links)
    assert message.ts


async def test_the_silence_link_keeps_an_external_url_with_a_query_string(
    sqlite_url: str, start_bot: Any, emulator: SlackEmulator
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    payload = notification()
    payload["externalURL"] = "https://am.example/prefix?org=ops"
    await bot.fire(payload)
    [post] = [c.args for c in emulator.calls("chat.postMessage")]
    [silence] = [
        inner.split("|")[0]
        for t in mrkdwn_texts(post)
        for inner in CONTROL.findall(t)
        if inner.endswith(f"|{m.LINK_SILENCE}")
    ]
    assert silence.startswith("https://am.example/prefix/?org=ops#/silences/new?filter=")
    assert "%7Balertname%3D%22DiskFull%22%7D" in silence


async def test_a_storm_summary_lists_hostile_names_as_text(
    sqlite_url: str, start_bot: Any, emulator: SlackEmulator, example_config: Config
) -> None:
    alerts = example_config.alerts.model_copy(update={"storm_threshold": 1})
    bot: Bot = await start_bot(
        sqlite_url, config=example_config.model_copy(update={"alerts": alerts})
    )
    # Slack holds the channel back: the first two posts wait out a long Retry-After, so the
    # channel's queue is longer than the threshold (1 s at one post a second): a storm.
    emulator.fail_next("chat.postMessage", status=429, retry_after=30, times=2)
    await bot.fire(notification(group_key="first"))
    for index in range(3):
        await bot.fire(hostile_group(f"Storm{index}", alerts=1))
    await bot.at(timedelta(seconds=5))
    summaries = [c.args for c in emulator.calls("chat.postMessage") if "storm" in c.args["text"]]
    assert summaries, "no storm summary was posted"
    assert "Storm1 &lt;!channel&gt;" in summaries[-1]["text"]
    assert_no_foreign_markup(emulator)


async def test_a_pagerduty_incident_title_cannot_mention_or_link(
    sqlite_url: str, start_bot: Any
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    incident = bot.pd.open_incident(f"Replication lag {EVIL}")
    data = bot.pd.webhook_data(incident)
    data["html_url"] = EVIL_URL
    status, _ = await bot.pd.send_webhook(
        f"{bot.url}/webhooks/pagerduty", "incident.triggered", data, WEBHOOK_SECRET
    )
    assert status == 200
    await bot.running.settle()
    [message] = bot.emulator.messages("C0000INCID")
    text = assert_no_foreign_markup(bot.emulator)
    assert "Replication lag &lt;!channel&gt;" in text  # in the fallback text, escaped
    assert message.ts


async def test_a_pagerduty_refusal_echoing_markup_is_said_in_the_thread_as_text(
    sqlite_url: str, start_bot: Any
) -> None:
    bot: Bot = await start_bot(sqlite_url)
    # PagerDuty's error names the field it disliked, quoting what the alert put in it.
    bot.pd.fail_next(
        "/v2/enqueue",
        400,
        body={"status": "invalid event", "message": "Event object is invalid", "errors": [EVIL]},
    )
    await bot.fire(notification(labels={"alertname": "ApiDown", "severity": "critical"}))
    [refused] = bot.replies("C0000INCID", "PagerDuty refused the page")
    assert "&lt;!here&gt;" in refused
    assert_no_foreign_markup(bot.emulator)

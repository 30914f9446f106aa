"""The incident domain on plain data: `/incident` parsing, channel names by Slack's rules,
and outside text kept inert in the summary and the postmortem."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incidents.commands import Change, Declare, Problem, parse
from incidents.naming import MAX_NAME, channel_name, is_valid, with_suffix
from incidents.postmortem import render_markdown
from incidents.summary import IncidentView, LinkedGroup, render_summary
from incidents.timeline import entry

NOW = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("declare API down --severity p0", Declare("API down", "P0")),
        ("declare --severity=P2 disk full", Declare("disk full", "P2")),
        ("declare  API   down ", Declare("API down", "P1")),
        ("update 12 rolled back", Change("update", 12, "rolled back")),
        ("update rolled back", Change("update", None, "rolled back")),
        ("lead <@U0000ONC01|olu>", Change("lead", None, "U0000ONC01")),
        ("lead #7 <@W0000ONC01>", Change("lead", 7, "W0000ONC01")),
        ("severity 3 p1", Change("severity", 3, "P1")),
        ("status Mitigated", Change("status", None, "mitigated")),
        ("resolve", Change("resolve", None, "")),
        ("action 4 add a canary", Change("action", 4, "add a canary")),
    ],
)
def test_parse(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Usage"),
        ("declare", "Give the incident a title"),
        ("declare " + "x" * 251, "within 250"),
        ("declare down --severity P4", "not a severity"),
        ("lead olu", "as a mention"),
        ("lead <!channel>", "as a mention"),
        ("status resolved", "/incident resolve"),
        ("update", "Say what to add"),
        ("<!channel>", "&lt;!channel&gt;"),
    ],
)
def test_bad_input_says_what_to_type(text: str, problem: str) -> None:
    result = parse(text)
    assert isinstance(result, Problem) and problem in result.text
    assert "<!channel>" not in result.text


def test_channel_names_follow_slacks_rules() -> None:
    name = channel_name("inc", NOW, "Checkout: 50% errors — Ünïcode & emoji 🔥!")
    assert name == "inc-2026-12-08-checkout-50-errors-unicode-emoji"
    long = channel_name("inc", NOW, "word " * 40)
    assert len(long) <= MAX_NAME and is_valid(long) and not long.endswith("-")
    assert with_suffix(long, 3).endswith("-3") and len(with_suffix(long, 3)) <= MAX_NAME
    assert channel_name("inc", NOW, "🔥🔥") == "inc-2026-12-08-incident"


def test_outside_text_is_inert_in_the_summary_and_the_postmortem() -> None:
    view = IncidentView(
        id=3,
        title="<!channel> <https://evil|click>",
        severity="P0",
        status="investigating",
        lead="U0000ONC01",
        started_at=NOW,
        declared_at=NOW,
        groups=[LinkedGroup(1, "<@U0BOSS>", "P0", "firing")],
        last_update="*bold* <!here>",
    )
    rendered = render_summary(view, NOW)
    assert rendered["blocks"][0]["type"] == "header"  # plain text: Slack parses no markup
    summary = str([rendered["text"], rendered["blocks"][1:]])
    assert "<!channel>" not in summary and "<!here>" not in summary and "<@U0BOSS>" not in summary
    entries = [entry(NOW, "U1", "incident.update", {"value": "[x](https://evil) ![i](y)"})]
    draft = render_markdown(view, entries, NOW)
    assert "](https://evil)" not in draft and "\\[x\\]" in draft

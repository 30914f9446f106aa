"""Alert messages stay within Slack's limits and say what the on-call engineer needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.render import AlertView, GroupView, render_group
from bot.sandbox.blocks import validate_blocks

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def alert(index: int, *, summary: str = "Disk almost full", status: str = "firing") -> AlertView:
    return AlertView(
        name="DiskFull",
        status=status,
        labels={"alertname": "DiskFull", "instance": f"node-{index}:9100"},
        annotations={"summary": summary},
        starts_at=NOW - timedelta(minutes=12),
        generator_url="http://prometheus:9090/graph",
    )


def group(alerts: list[AlertView], **kwargs: object) -> GroupView:
    values: dict[str, object] = {
        "id": 7,
        "status": "firing",
        "priority": "P1",
        "alerts": alerts,
        "common_labels": {"alertname": "DiskFull", "service": "api", "namespace": "sergas"},
        "group_labels": {"alertname": "DiskFull"},
        "external_url": "http://alertmanager:9093",
        "firing_since": NOW - timedelta(minutes=12),
    }
    values.update(kwargs)
    return GroupView(**values)  # type: ignore[arg-type]


def test_a_huge_group_shows_the_first_alerts_and_plus_n_more() -> None:
    message = render_group(
        group([alert(i, summary="x" * 5000) for i in range(500)]), NOW, max_alerts=10
    )
    blocks = message["blocks"]
    assert len(blocks) <= 50
    assert validate_blocks(blocks) == []  # the emulator applies Slack's documented rules
    text = str(blocks)
    assert "+490 more alert(s)" in text
    assert "node-9:9100" in text and "node-10:9100" not in text


def test_long_texts_are_clipped_not_rejected() -> None:
    g = group(
        [alert(0)],
        common_annotations={"summary": "s" * 10_000, "description": "d" * 10_000},
        common_labels={"alertname": "A" * 500, "service": "v" * 3000},
    )
    message = render_group(g, NOW)
    assert validate_blocks(message["blocks"]) == []
    assert len(message["blocks"][0]["text"]["text"]) <= 150
    assert len(message["text"]) <= 3000


def test_the_message_shows_priority_labels_age_links_and_buttons() -> None:
    message = render_group(
        group(
            [alert(0)],
            common_annotations={
                "summary": "Disk almost full",
                "runbook_url": "https://runbooks/x.md",
            },
        ),
        NOW,
    )
    text = str(message["blocks"])
    assert message["blocks"][0]["text"]["text"].startswith("🟠 P1 · FIRING · DiskFull")
    assert "*Service*\\napi" in text and "*Namespace*\\nsergas" in text
    assert "(12m)" in text  # how long it has been firing
    assert "<http://prometheus:9090/graph|Source>" in text
    assert "<https://runbooks/x.md|Runbook doc>" in text
    assert "silences/new?filter=%7Balertname%3D%22DiskFull%22%7D" in text
    buttons = message["blocks"][-1]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("alert.ack", "7"),
        ("alert.silence", "7"),
        ("incident.declare", "7"),  # a P1's responders may declare an incident from it
    ]


def test_a_group_in_an_incident_names_it_and_has_no_declare_button() -> None:
    message = render_group(
        group([alert(0)], incident="🚨 part of *incident #3*: <#C0NEW00001>"), NOW
    )
    assert "<#C0NEW00001>" in str(message["blocks"])
    actions = [b["action_id"] for b in message["blocks"][-1]["elements"]]
    assert actions == ["alert.ack", "alert.silence"]
    p2 = render_group(group([alert(0)], priority="P2"), NOW)
    assert "incident.declare" not in str(p2["blocks"])


def test_acknowledged_and_resolved_states() -> None:
    acked = render_group(group([alert(0)], acked_by="U0000ONC01", acked_at=NOW), NOW)
    assert "Acknowledged by <@U0000ONC01>" in str(acked["blocks"])
    assert [b["action_id"] for b in acked["blocks"][-1]["elements"]] == [
        "alert.silence",
        "incident.declare",
    ]

    done = render_group(
        group([alert(0, status="resolved")], status="resolved", resolved_at=NOW), NOW
    )
    assert done["blocks"][0]["text"]["text"].startswith("✅ P1 · RESOLVED")
    assert "Resolved after 12m" in str(done["blocks"])
    assert not any(b["type"] == "actions" for b in done["blocks"])


def test_slack_control_characters_in_labels_are_escaped() -> None:
    g = group([alert(0, summary="<!channel> & <@U123>")])
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in str(render_group(g, NOW)["blocks"])


def test_p0_mentions_the_on_call_group() -> None:
    message = render_group(group([alert(0)], priority="P0", mention="S0000ONCAL"), NOW)
    assert "<!subteam^S0000ONCAL>" in str(message["blocks"])

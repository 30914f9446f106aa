"""Groups of thousands of alerts, and Grafana's extras, within Slack's Block Kit limits."""

from __future__ import annotations

import json
from dataclasses import replace

from alerts.render import render_alert_page, render_group
from bot.sandbox.blocks import validate_blocks
from tests.unit.test_render_alert_group import NOW, alert, group

LONG = "x" * 5000
GRAFANA = {
    "values": {"B": "44.24", "C": "1"},
    "dashboard_url": "https://grafana.example.com/d/abc",
    "panel_url": "https://grafana.example.com/d/abc?viewPanel=4",
    "silence_url": "https://grafana.example.com/alerting/silence/new",
    "image_url": "https://grafana.example.com/render/abc.png",
}


def test_a_5000_alert_group_shows_its_count_and_a_show_all_button() -> None:
    shown = [replace(alert(i, summary=LONG), extras=GRAFANA) for i in range(20)]
    view = group(shown, alert_count=5000, firing_count=4990, truncated_alerts=1290)
    message = render_group(view, NOW, max_alerts=20)
    assert validate_blocks(message["blocks"]) == []
    text = json.dumps(message["blocks"])
    assert "4,990 firing / 5,000" in text
    assert "+4,980 more alert(s)" in text
    assert "left out 1,290 more" in text
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {"action_id": "alert.page", "value": "7:0"}.items() <= buttons[-1].items()


def test_a_resolved_large_group_keeps_its_show_all_button() -> None:
    view = group([alert(i) for i in range(10)], status="resolved", alert_count=300)
    message = render_group(view, NOW)
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["alert.page"]


def test_a_page_of_the_longest_alerts_stays_within_the_limits() -> None:
    alerts = [replace(alert(i, summary=LONG), extras=GRAFANA) for i in range(100)]
    page = render_alert_page(7, alerts, offset=4900, total=5000, now=NOW)
    assert validate_blocks(page["blocks"]) == []
    assert page["text"] == "Alerts 4,901–5,000 of 5,000 in this group"
    assert not any(b["type"] == "actions" for b in page["blocks"])  # the last page
    middle = render_alert_page(7, alerts, offset=100, total=5000, now=NOW)
    assert validate_blocks(middle["blocks"]) == []
    assert middle["blocks"][-1]["elements"][0]["value"] == "7:200"


def test_grafana_values_links_and_image_are_shown() -> None:
    message = render_group(group([replace(alert(1), extras=GRAFANA)], source="grafana"), NOW)
    assert validate_blocks(message["blocks"]) == []
    text = json.dumps(message["blocks"])
    assert "B=44.24, C=1" in text
    assert "|Dashboard>" in text and "|Panel>" in text and "|Silence in Grafana>" in text
    assert "Silence in Alertmanager" not in text and "via Grafana" in text
    [image] = [b for b in message["blocks"] if b["type"] == "image"]
    assert image["image_url"] == GRAFANA["image_url"]


def test_an_assumed_start_is_said_in_the_message() -> None:
    view = group([replace(alert(1), extras={"start_assumed": True})])
    assert "start time not sent" in json.dumps(render_group(view, NOW)["blocks"])

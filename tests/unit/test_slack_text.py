"""The one escaping function and the link builder (alerts/slack_text.py)."""

from __future__ import annotations

from dataclasses import replace

from alerts.render import render_group
from alerts.slack_text import code_block, escape, inline_code, join_url, link
from bot.runbooks.executors import output_block
from bot.sandbox.blocks import validate_blocks
from tests.unit.test_render_alert_group import NOW, alert, group

MARKUP = "<!channel> <!here> <@U0000APR01> <https://evil.example|Click> & co"


def test_escape_leaves_no_slack_control_sequence() -> None:
    assert escape(MARKUP) == (
        "&lt;!channel&gt; &lt;!here&gt; &lt;@U0000APR01&gt; "
        "&lt;https://evil.example|Click&gt; &amp; co"
    )
    assert "<" not in escape(MARKUP) and ">" not in escape(MARKUP)


def test_code_blocks_of_logs_and_output_are_escaped_and_stay_closed() -> None:
    for block in (code_block(f"line\n{MARKUP}\n```"), output_block(f"GET /\n{MARKUP}")):
        assert "<" not in block and ">" not in block
        assert block.startswith("```\n") and block.endswith("\n```") and block.count("```") == 2
    assert inline_code("a`b<!here>") == "`a'b&lt;!here&gt;`"


def test_code_block_keeps_the_newest_lines_within_the_limit() -> None:
    block = code_block("<" * 50 + "\n" + "new line", limit=30)
    assert block.endswith("new line\n```") and "earlier line(s) not shown" in block


def test_links_only_to_http_urls_with_the_given_label() -> None:
    assert link("javascript:alert(1)", "Source") is None
    assert link("ftp://files.example/x", "Source") is None
    assert link("not a url", "Source") is None
    assert link("https://prometheus.example/graph?g0.expr=up%3D%3D0&x=1", "Source") == (
        "<https://prometheus.example/graph?g0.expr=up%3D%3D0&amp;x=1|Source>"
    )
    hostile = link("https://evil.example|Click to approve> <!here>", "Source")
    assert hostile == "<https://evil.example%7CClick%20to%20approve%3E%20%3C!here%3E|Source>"


def test_join_url_keeps_the_base_path_and_query_out_of_the_way() -> None:
    assert join_url("https://am.example/prefix?org=ops", "/", fragment="/silences/new") == (
        "https://am.example/prefix/?org=ops#/silences/new"
    )
    assert join_url("http://alertmanager:9093", "/", fragment="/x") == (
        "http://alertmanager:9093/#/x"
    )
    assert join_url("file:///etc/passwd", "/") is None


def test_an_image_url_slack_cannot_use_leaves_out_the_image_not_the_alert() -> None:
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "https://g.example/" + "x" * 3000):
        view = group([replace(alert(1), extras={"image_url": bad})], source="grafana")
        message = render_group(view, NOW)
        assert validate_blocks(message["blocks"]) == []
        assert not [b for b in message["blocks"] if b["type"] == "image"], bad

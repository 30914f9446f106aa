"""Block Kit rendered as terminal text for sandbox mode."""

from __future__ import annotations

from typing import Any

from bot.sandbox.render import render_blocks, render_text
from bot.sandbox.store import Message

ALERT_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "P0 HighErrorRate (api)"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "5xx ratio is 12% on *api* (threshold 5%)"},
        "fields": [
            {"type": "mrkdwn", "text": "*Severity:*\ncritical"},
            {"type": "mrkdwn", "text": "*Team:*\npayments"},
        ],
    },
    {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": "Firing since 12:03 UTC"},
            {"type": "mrkdwn", "text": "<!subteam^S0000ONCAL> paged"},
        ],
    },
    {"type": "divider"},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "ack",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Acknowledge"},
            },
            {
                "type": "button",
                "action_id": "silence",
                "text": {"type": "plain_text", "text": "Silence 1h"},
            },
            {
                "type": "button",
                "action_id": "runbook",
                "url": "https://runbooks.example.com/high-error-rate",
                "text": {"type": "plain_text", "text": "Runbook"},
            },
        ],
    },
]


def message(text: str, blocks: list[dict[str, Any]], **kw: Any) -> Message:
    return Message(ts="1700000000.000100", channel="C0000ALERT", text=text, blocks=blocks,
                   user="U0BOT00001", **kw)  # fmt: skip


def test_realistic_alert_message() -> None:
    assert render_text(message("P0 HighErrorRate", ALERT_BLOCKS)) == "\n".join(
        [
            "P0 HighErrorRate (api)",
            "======================",
            "5xx ratio is 12% on *api* (threshold 5%)",
            "*Severity:* critical",
            "*Team:* payments",
            "Firing since 12:03 UTC | @S0000ONCAL paged",
            "-" * 40,
            "[Acknowledge] [Silence 1h] [Runbook]",
        ]
    )


def test_thread_replies_are_indented_and_reactions_shown() -> None:
    parent = message("Deploy api v1.4.0 to production: Pending", [])
    parent.reactions = {"white_check_mark": ["U0000APR01", "U0000APR02"]}
    reply = message("Shifted 10%", [], thread_ts=parent.ts)
    reply.ts = "1700000000.000200"
    assert render_text(parent, [reply]) == (
        "Deploy api v1.4.0 to production: Pending\n:white_check_mark: 2\n    Shifted 10%"
    )
    assert render_text(reply) == "    Shifted 10%"


def test_falls_back_to_text_and_marks_ephemerals() -> None:
    assert render_text(message("plain fallback", [{"type": "rich_unknown"}])) == "plain fallback"
    eph = message("Only approvers can approve", [], ephemeral_user="U0000OUT01")
    assert render_text(eph) == "(only visible to U0000OUT01) Only approvers can approve"


def test_rich_text_accessories_and_images() -> None:
    blocks: list[dict[str, Any]] = [
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "Approved by "},
                        {"type": "user", "user_id": "U0000APR01"},
                        {"type": "emoji", "name": "tada"},
                    ],
                },
                {
                    "type": "rich_text_list",
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "a"}]},
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": "b"}]},
                    ],
                },
            ],
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Step 1: check pods"},
            "accessory": {
                "type": "button",
                "action_id": "done",
                "text": {"type": "plain_text", "text": "Done"},
            },
        },
        {"type": "image", "image_url": "https://example.com/g.png", "alt_text": "error graph"},
    ]
    assert render_blocks(blocks) == "\n".join(
        [
            "Approved by @U0000APR01:tada:",
            "• a",
            "• b",
            "Step 1: check pods",
            "[Done]",
            "[image: error graph]",
        ]
    )


def test_slack_control_sequences_read_as_slack_shows_them() -> None:
    from bot.sandbox.render import plain

    assert (
        plain("<https://x.test/a|Source> · <https://y.test>")
        == "Source (https://x.test/a) · https://y.test"
    )
    assert plain("<!subteam^S1> <@U1> <!here>") == "@S1 @U1 @here"
    assert (
        plain("since <!date^1700000000^{time}|2023-11-14 22:13 UTC>")
        == "since 2023-11-14 22:13 UTC"
    )
    assert plain("p95 &lt; 2s &amp; rising") == "p95 < 2s & rising"

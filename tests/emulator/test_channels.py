"""The emulator's channel methods answer like Slack: its name rules and error words."""

from __future__ import annotations

from bot.sandbox.emulator import SlackEmulator, default_workspace
from bot.sandbox.store import BOT_USER_ID

METHODS = SlackEmulator(token="t", signing_secret="s")
default_workspace(METHODS)
API = METHODS.api.methods


def call(method: str, **args: object) -> dict[str, object]:
    return API[method](dict(args))


def test_conversations_create_follows_slacks_name_rules() -> None:
    assert call("conversations.create", name="")["error"] == "invalid_name_required"
    assert call("conversations.create", name="x" * 81)["error"] == "invalid_name_maxlength"
    for bad in ("Has-Caps", "with space", "émoji", "dot.name"):
        assert call("conversations.create", name=bad)["error"] == "invalid_name_specials"
    made = call("conversations.create", name="inc-2026-01-01-" + "a" * 65)
    assert made["ok"] is True
    assert call("conversations.create", name="alerts")["error"] == "name_taken"


def test_invite_topic_pins_and_archive_answer_like_slack() -> None:
    made = call("conversations.create", name="inc-rules")
    channel = str(made["channel"]["id"])  # type: ignore[index]
    assert call("conversations.invite", channel=channel, users="U0000ONC01")["ok"] is True
    assert call("conversations.invite", channel=channel, users="U0000ONC01")["error"] == (
        "already_in_channel"
    )
    assert call("conversations.invite", channel=channel, users=BOT_USER_ID)["error"] == (
        "cant_invite_self"
    )
    assert call("conversations.invite", channel=channel, users="U0NOBODY01")["error"] == (
        "user_not_found"
    )
    assert call("conversations.setTopic", channel=channel, topic="t" * 251)["error"] == "too_long"
    assert call("conversations.setPurpose", channel=channel, purpose="p" * 250)["ok"] is True
    posted = call("chat.postMessage", channel=channel, text="summary")
    ts = str(posted["ts"])
    assert call("pins.add", channel=channel, timestamp=ts)["ok"] is True
    assert call("pins.add", channel=channel, timestamp=ts)["error"] == "already_pinned"
    assert call("pins.add", channel=channel, timestamp="1.000001")["error"] == "message_not_found"
    assert call("conversations.archive", channel=channel)["ok"] is True
    assert call("conversations.archive", channel=channel)["error"] == "already_archived"
    assert call("conversations.invite", channel=channel, users="U0000APR01")["error"] == (
        "is_archived"
    )

"""What Slack does with a POST to a response_url.

Commands and button clicks hand the bot a response_url; bolt's `respond()` posts JSON
there instead of calling the Web API. Slack then, per its documentation: replaces or
deletes the message the click came from (`replace_original` / `delete_original`),
posts to the channel (`response_type: in_channel`), or otherwise shows an ephemeral
message to the user who acted (the default). A URL is good for five uses within 30
minutes (on the emulator's clock), in any conversation: a DM, or a private channel the
bot is not a member of. Past either limit Slack answers 404 `used_url` / `expired_url`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.store import (
    BOT_USER_ID,
    JSON,
    Message,
    MessageVersion,
    ResponsePost,
    ResponseTarget,
    Store,
)
from bot.sandbox.webapi import Content, error, flag, opt_str, read_content

MAX_USES = 5
MAX_AGE = 30 * 60.0  # seconds


@dataclass
class Outcome:
    status: int
    body: JSON
    message: Message | None


def apply_response(
    store: Store,
    target: ResponseTarget | None,
    body: object,
    at: float,
) -> Outcome:
    """Apply one response_url POST to the workspace and record it."""
    if target is None:
        return Outcome(404, error("expired_url"), None)
    outcome = _apply(store, target, body, at)
    store.responses.append(
        ResponsePost(
            target_id=target.id,
            body=body if isinstance(body, dict) else {"raw": body},
            status=outcome.status,
            error=None if outcome.status == 200 else str(outcome.body.get("error")),
            channel=target.channel,
            user=target.user,
            at=at,
        )
    )
    return outcome


def _apply(store: Store, target: ResponseTarget, body: object, at: float) -> Outcome:
    target.uses += 1
    if target.uses > MAX_USES:
        return Outcome(404, error("used_url"), None)
    if target.issued_at is not None and at - target.issued_at > MAX_AGE:
        return Outcome(404, error("expired_url"), None)
    if not isinstance(body, dict):
        return Outcome(400, error("invalid_payload"), None)
    original = None if target.message_ts is None else store.find(target.channel, target.message_ts)
    if flag(body.get("delete_original", False)):
        if original is None:
            return Outcome(404, error("message_not_found"), None)
        original.deleted = True
        return Outcome(200, {"ok": True}, original)
    content = read_content(body)
    if not isinstance(content, Content):
        return Outcome(400, content, None)
    if flag(body.get("replace_original", False)):
        if original is None:
            return Outcome(404, error("message_not_found"), None)
        # Unlike chat.update, a replacement is the whole new message.
        original.text, original.blocks = content.text or "", content.blocks or []
        original.attachments = content.attachments
        original.versions.append(MessageVersion(original.text, original.blocks, at))
        return Outcome(200, {"ok": True}, original)
    in_channel = body.get("response_type") == "in_channel"
    message = Message(
        ts=store.next_ts(),
        channel=target.channel,
        text=content.text or "",
        blocks=content.blocks or [],
        user=BOT_USER_ID,
        thread_ts=opt_str(body.get("thread_ts")),
        ephemeral_user=None if in_channel else target.user,
        attachments=content.attachments,
    )
    message.versions.append(MessageVersion(message.text, message.blocks, at))
    store.add_message(message)
    return Outcome(200, {"ok": True}, message)

"""The Slack Web API methods the bot uses, answered like Slack answers them.

Each handler takes the call's arguments (already authenticated, blocks already parsed
where they were valid JSON) and returns Slack's documented response body: `ok` plus
the method's fields, or `ok: false` with the documented error word. HTTP concerns
(auth, faults, rate limits, recording) live in `emulator.py`; this module is the
workspace semantics only, so it can be read against Slack's method reference.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.sandbox.blocks import BlocksFormatError, parse_blocks, validate_blocks
from bot.sandbox.images import slack_can_fetch
from bot.sandbox.store import (
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    JSON,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    Message,
    MessageVersion,
    Store,
)
from bot.sandbox.webapi_people import people_methods

log = logging.getLogger(__name__)

MAX_TEXT = 40_000

Notify = Callable[[str, Message], None]
Handler = Callable[[JSON], JSON]


def error(code: str, **extra: Any) -> JSON:
    return {"ok": False, "error": code, **extra}


def flag(value: object) -> bool:
    """A boolean argument: JSON sends true/false, forms send "true"/"1"."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes")


def opt_str(value: object) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


class Content:
    """Text, blocks and attachments of a message after validation."""

    def __init__(self, text: str | None, blocks: list[JSON] | None, attachments: list[JSON]):
        self.text = text
        self.blocks = blocks
        self.attachments = attachments


def read_content(
    args: JSON, *, for_update: bool = False, fetchable: Callable[[str], bool] = slack_can_fetch
) -> Content | JSON:
    """Validate the content arguments shared by the chat methods and response_url.

    Returns the content, or the error body Slack would answer with.
    """
    try:
        blocks = parse_blocks(args.get("blocks"))
    except BlocksFormatError:
        return error("invalid_blocks_format")
    if blocks:
        problems = validate_blocks(blocks, fetchable)
        if problems:
            return error(
                "invalid_blocks",
                errors=problems,
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )
    raw_attachments = args.get("attachments")
    attachments = raw_attachments if isinstance(raw_attachments, list) else []
    text = None if args.get("text") is None else str(args["text"])
    if text is not None and len(text) > MAX_TEXT:
        return error("msg_too_long")
    # chat.update keeps what it is not given, so only a call giving nothing is empty.
    if for_update:
        if text is None and blocks is None and not attachments:
            return error("no_text")
    elif not text and not blocks and not attachments:
        return error("no_text")
    return Content(text, blocks, attachments)


class WebApi:
    """Handlers for `/api/<method>`, keyed by Slack method name."""

    def __init__(self, store: Store, clock: Callable[[], float], notify: Notify) -> None:
        self.store = store
        self._clock = clock
        self._notify = notify
        # Image hosts Slack cannot download from, beyond the internal ones (images.py).
        self.unfetchable_image_hosts: set[str] = set()
        self.methods: dict[str, Handler] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.getPermalink": self.chat_get_permalink,
            "reactions.add": self.reactions_add,
            "users.info": self.users_info,
            "usergroups.users.list": self.usergroups_users_list,
            "conversations.info": self.conversations_info,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
        }
        self.methods.update(people_methods(store))  # bot/sandbox/webapi_people.py

    def auth_test(self, args: JSON) -> JSON:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _channel(self, args: JSON, key: str = "channel") -> str | None:
        channel = opt_str(args.get(key))
        return channel if channel is not None and channel in self.store.channels else None

    def _fetchable(self, url: str) -> bool:
        return slack_can_fetch(url, self.unfetchable_image_hosts)

    def _not_member(self, channel: str) -> JSON | None:
        """Slack's answer to an app writing where it is not a member (without
        chat:write.public): a private conversation does not exist for it."""
        found = self.store.channels[channel]
        if found.is_member:
            return None
        return error("channel_not_found" if found.is_private else "not_in_channel")

    def chat_post_message(self, args: JSON) -> JSON:
        channel = self._channel(args)
        if channel is None:
            return error("channel_not_found")
        refused = self._not_member(channel)
        if refused is not None:
            return refused
        content = read_content(args, fetchable=self._fetchable)
        if not isinstance(content, Content):
            return content
        thread_ts = opt_str(args.get("thread_ts"))
        metadata = read_metadata(args.get("metadata"))
        if isinstance(metadata, str):
            return error(metadata)
        message = self._new_message(channel, content, thread_ts=thread_ts)
        message.metadata = metadata
        message.reply_broadcast = thread_ts is not None and flag(args.get("reply_broadcast"))
        if thread_ts is not None and self.store.find(channel, thread_ts) is None:
            message.thread_missing = True
            log.warning("reply in %s names thread_ts %s which is no message", channel, thread_ts)
        self.store.add_message(message)
        self._notify("post", message)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": message.to_api()}

    def _new_message(
        self,
        channel: str,
        content: Content,
        *,
        thread_ts: str | None,
        ephemeral_user: str | None = None,
    ) -> Message:
        text, blocks = content.text or "", content.blocks or []
        return Message(
            ts=self.store.next_ts(),
            channel=channel,
            text=text,
            blocks=blocks,
            user=BOT_USER_ID,
            thread_ts=thread_ts,
            ephemeral_user=ephemeral_user,
            attachments=content.attachments,
            versions=[MessageVersion(text, blocks, self._clock())],
        )

    def chat_update(self, args: JSON) -> JSON:
        channel = self._channel(args)
        if channel is None:
            return error("channel_not_found")
        ts = opt_str(args.get("ts"))
        message = None if ts is None else self.store.find(channel, ts)
        if message is None:
            return error("message_not_found")
        content = read_content(args, for_update=True, fetchable=self._fetchable)
        if not isinstance(content, Content):
            return content
        apply_update(message, content, self._clock())
        self._notify("update", message)
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": message.text,
            "message": message.to_api(),
        }

    def chat_post_ephemeral(self, args: JSON) -> JSON:
        channel = self._channel(args)
        if channel is None:
            return error("channel_not_found")
        refused = self._not_member(channel)
        if refused is not None:
            return refused
        user = self.store.users.get(str(args.get("user")))
        if user is None or user.deleted:
            return error("user_not_in_channel")
        content = read_content(args, fetchable=self._fetchable)
        if not isinstance(content, Content):
            return content
        thread_ts = opt_str(args.get("thread_ts"))
        message = self._new_message(channel, content, thread_ts=thread_ts, ephemeral_user=user.id)
        self.store.add_message(message)
        self._notify("ephemeral", message)
        return {"ok": True, "message_ts": message.ts}

    def chat_get_permalink(self, args: JSON) -> JSON:
        channel = self._channel(args)
        if channel is None:
            return error("channel_not_found")
        ts = opt_str(args.get("message_ts"))
        message = None if ts is None else self.store.find(channel, ts)
        if message is None:
            return error("message_not_found")
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{message.ts.replace('.', '')}"
        if message.is_reply:
            link += f"?thread_ts={message.thread_ts}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def reactions_add(self, args: JSON) -> JSON:
        channel = self._channel(args)
        if channel is None:
            return error("channel_not_found")
        ts = opt_str(args.get("timestamp"))
        if ts is None:
            return error("no_item_specified")
        name = str(args.get("name") or "")
        # Names are bare ("white_check_mark"): ":x:" or "two words" are client mistakes.
        if not name or ":" in name or any(c.isspace() for c in name):
            return error("invalid_name")
        message = self.store.find(channel, ts)
        if message is None:
            return error("message_not_found")
        users = message.reactions.setdefault(name, [])
        if BOT_USER_ID in users:
            return error("already_reacted")
        users.append(BOT_USER_ID)
        return {"ok": True}

    def users_info(self, args: JSON) -> JSON:
        user = self.store.users.get(str(args.get("user")))
        if user is None:
            return error("user_not_found")
        return {"ok": True, "user": user.to_api()}

    def usergroups_users_list(self, args: JSON) -> JSON:
        group = self.store.usergroups.get(str(args.get("usergroup")))
        if group is None:
            return error("no_such_subteam")
        return {"ok": True, "users": list(group.users)}

    def conversations_info(self, args: JSON) -> JSON:
        channel_id = self._channel(args)
        if channel_id is None:
            return error("channel_not_found")
        channel = self.store.channels[channel_id]
        return {
            "ok": True,
            "channel": {
                "id": channel.id,
                "name": channel.name,
                "is_channel": True,
                "is_group": False,
                "is_im": False,
                "is_private": channel.is_private,
                "is_archived": False,
                "is_member": channel.is_member,
            },
        }

    def conversations_history(self, args: JSON) -> JSON:
        """Top-level messages, newest first, within (oldest, latest]; `limit` per page."""
        channel = self._channel(args)
        if channel is None:
            return error("channel_not_found")
        refused = self._not_member(channel)
        if refused is not None:
            return refused
        messages = self.store.top_level(channel)
        return self._page(messages, args, newest_first=True)

    def conversations_replies(self, args: JSON) -> JSON:
        """A thread: its parent, then the replies oldest first."""
        channel = self._channel(args)
        if channel is None:
            return error("channel_not_found")
        ts = opt_str(args.get("ts"))
        parent = None if ts is None else self.store.find(channel, ts)
        if parent is None:
            return error("thread_not_found")
        return self._page([parent, *self.store.replies(channel, parent.ts)], args)

    def _page(self, messages: list[Message], args: JSON, *, newest_first: bool = False) -> JSON:
        try:
            oldest = float(args.get("oldest") or 0)
            latest = float(args["latest"]) if args.get("latest") else None
            limit = max(1, min(int(args.get("limit") or 100), 1000))
        except (TypeError, ValueError):
            return error("invalid_arguments")
        chosen = [
            m
            for m in messages
            if float(m.ts) > oldest and (latest is None or float(m.ts) <= latest)
        ]
        if newest_first:
            chosen.sort(key=lambda m: float(m.ts), reverse=True)
        cursor = str(args.get("cursor") or "")
        start = int(cursor) if cursor.isdigit() else 0
        page = chosen[start : start + limit]
        with_metadata = flag(args.get("include_all_metadata", False))
        out = []
        for message in page:
            item = message.to_api()
            if not with_metadata:
                item.pop("metadata", None)
            out.append(item)
        more = start + limit < len(chosen)
        return {
            "ok": True,
            "messages": out,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }


def read_metadata(value: object) -> JSON | str | None:
    """Message metadata as Slack checks it; an error word when it is malformed."""
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        return "invalid_metadata_format"
    if not isinstance(value.get("event_type"), str) or not value["event_type"]:
        return "invalid_metadata_schema"
    payload = value.get("event_payload", {})
    if not isinstance(payload, dict):
        return "invalid_metadata_schema"
    return {"event_type": value["event_type"], "event_payload": payload}


def apply_update(message: Message, content: Content, at: float) -> None:
    """Write a new version; omitted text or blocks are kept, as chat.update does."""
    if content.text is not None:
        message.text = content.text
    if content.blocks is not None:
        message.blocks = content.blocks
    if content.attachments:
        message.attachments = content.attachments
    message.versions.append(MessageVersion(message.text, message.blocks, at))

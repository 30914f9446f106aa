"""In-memory state of the emulated Slack workspace.

Tests and the sandbox only learn what the bot did by looking at what "Slack" now holds:
which messages exist, in which thread, in which version, with which reactions, and
which Web API calls produced them. This module keeps that state as plain dataclasses
so assertions read naturally (`emulator.messages("C0000ALERT")[0].versions`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

# Fixed identities of the emulated workspace and of the bot installed in it; the
# bot-side ids are the ones `auth.test` reports, so bolt learns them at start-up.
TEAM_ID = "T0SANDBOX1"
TEAM_NAME = "Sandbox"
TEAM_DOMAIN = "sandbox"
APP_ID = "A0SANDBOX1"
BOT_USER_ID = "U0BOT00001"
BOT_ID = "B0BOT00001"
BOT_NAME = "chatops"
# Slack still sends the deprecated verification token in payloads; bolt ignores it.
VERIFICATION_TOKEN = "sandbox-verification-token"  # noqa: S105 - a fixed fake, not a secret


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_member: bool = True


@dataclass
class User:
    id: str
    name: str
    real_name: str
    email: str
    is_bot: bool = False
    deleted: bool = False
    tz: str = "Etc/UTC"

    def to_api(self) -> JSON:
        """The `user` object of `users.info`."""
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "tz": self.tz,
            "profile": {
                "email": self.email,
                "display_name": self.name,
                "real_name": self.real_name,
            },
        }


@dataclass
class Usergroup:
    id: str
    handle: str
    users: list[str]


@dataclass
class MessageVersion:
    """One state of a message: as posted, then after each `chat.update`."""

    text: str
    blocks: list[JSON]
    at: float


@dataclass
class Message:
    ts: str
    channel: str
    text: str
    blocks: list[JSON]
    user: str
    thread_ts: str | None = None
    reply_broadcast: bool = False
    # Slack accepts a reply whose thread_ts names no message; that is almost always a
    # bot bug (a lost or wrong parent ts), so it is flagged rather than rejected.
    thread_missing: bool = False
    ephemeral_user: str | None = None
    attachments: list[JSON] = field(default_factory=list)
    versions: list[MessageVersion] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    deleted: bool = False
    # chat.postMessage's `metadata` ({event_type, event_payload}); Slack returns it from
    # conversations.history / replies only when asked with include_all_metadata.
    metadata: JSON | None = None
    # Files shared with the message (files.completeUploadExternal), as Slack lists them.
    files: list[JSON] = field(default_factory=list)

    @property
    def updates(self) -> list[MessageVersion]:
        """Versions written by `chat.update` or a response_url, oldest first."""
        return self.versions[1:]

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self) -> JSON:
        """The `message` object Slack returns from chat methods and sends in payloads."""
        out: JSON = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "team": TEAM_ID,
        }
        if self.user == BOT_USER_ID:
            out["bot_id"] = BOT_ID
            out["app_id"] = APP_ID
        if self.blocks:
            out["blocks"] = self.blocks
        if self.attachments:
            out["attachments"] = self.attachments
        if self.thread_ts is not None:
            out["thread_ts"] = self.thread_ts
            if self.is_reply:
                out["parent_user_id"] = BOT_USER_ID
        if self.metadata is not None:
            out["metadata"] = self.metadata
        if self.files:
            out["files"] = self.files
            out["upload"] = True
        if self.reactions:
            out["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in self.reactions.items()
            ]
        return out

    def to_dict(self) -> JSON:
        """A JSON view for the control API, with what the terminal CLI needs."""
        return {
            "ts": self.ts,
            "channel": self.channel,
            "user": self.user,
            "text": self.text,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "thread_missing": self.thread_missing,
            "ephemeral_user": self.ephemeral_user,
            "reactions": {name: list(users) for name, users in self.reactions.items()},
            "edits": len(self.updates),
            "deleted": self.deleted,
            "files": self.files,
        }


@dataclass
class Call:
    """One request to `/api/<method>`, as the bot made it and as it was answered."""

    method: str
    args: JSON
    status: int
    response: JSON
    at: float

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass
class ResponseTarget:
    """What a response_url handed to the bot is bound to."""

    id: str
    channel: str
    user: str
    message_ts: str | None
    uses: int = 0
    # On the emulator's clock; Slack keeps a response_url for 30 minutes from then.
    issued_at: float | None = None


@dataclass
class ResponsePost:
    """One POST the bot made to a response_url."""

    target_id: str
    body: JSON
    status: int
    error: str | None
    channel: str
    user: str
    at: float

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")

    @property
    def blocks(self) -> list[JSON]:
        blocks = self.body.get("blocks")
        return blocks if isinstance(blocks, list) else []

    @property
    def response_type(self) -> str:
        return str(self.body.get("response_type") or "ephemeral")


class Store:
    """Everything the emulated workspace holds; the Web API handlers mutate it."""

    def __init__(self, wall_clock: Callable[[], float]) -> None:
        self._wall_clock = wall_clock
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, Usergroup] = {}
        # Per channel, every message (top-level and replies) in posting order.
        self.channel_messages: dict[str, list[Message]] = {}
        self.ephemerals: list[Message] = []
        self.responses: list[ResponsePost] = []
        self.response_targets: dict[str, ResponseTarget] = {}
        self.calls: list[Call] = []
        self._last_ts = (0, 0)
        self.users[BOT_USER_ID] = User(
            BOT_USER_ID, BOT_NAME, "ChatOps", "chatops@example.com", is_bot=True
        )

    def next_ts(self) -> str:
        """A message ts in Slack's "seconds.micros" form, unique and increasing.

        The bot stores ts values as message ids and compares them, so they must never
        repeat or go backwards even when many messages land within one second.
        """
        seconds = int(self._wall_clock())
        last_seconds, last_micros = self._last_ts
        if seconds > last_seconds:
            micros = 100
        else:
            seconds, micros = last_seconds, last_micros + 100
            if micros > 999_999:
                seconds, micros = seconds + 1, 100
        self._last_ts = (seconds, micros)
        return f"{seconds}.{micros:06d}"

    def add_message(self, message: Message) -> None:
        if message.ephemeral_user is not None:
            self.ephemerals.append(message)
        else:
            self.channel_messages.setdefault(message.channel, []).append(message)

    def find(self, channel: str, ts: str) -> Message | None:
        """A live (not deleted) message, top-level or reply."""
        for message in self.channel_messages.get(channel, []):
            if message.ts == ts and not message.deleted:
                return message
        return None

    def find_ephemeral(self, channel: str, ts: str, user: str) -> Message | None:
        """An ephemeral message shown to `user` (who alone can click its buttons)."""
        for message in self.ephemerals:
            if message.channel == channel and message.ts == ts and message.ephemeral_user == user:
                return message
        return None

    def top_level(self, channel: str) -> list[Message]:
        return [
            m for m in self.channel_messages.get(channel, []) if not m.is_reply and not m.deleted
        ]

    def replies(self, channel: str, thread_ts: str) -> list[Message]:
        return [
            m
            for m in self.channel_messages.get(channel, [])
            if m.is_reply and m.thread_ts == thread_ts and not m.deleted
        ]

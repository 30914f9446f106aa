"""The emulator's channel-management methods, with Slack's rules and error words.

conversations.create (names: lowercase letters, digits, hyphens and underscores, at most
80 characters; `name_taken`, `invalid_name_specials`, `invalid_name_maxlength`,
`invalid_name_required`), conversations.invite (`already_in_channel`,
`cant_invite_self`, `user_not_found`), conversations.setTopic / setPurpose (250
characters: `too_long`), pins.add (`already_pinned`, `message_not_found`) and
conversations.archive (`already_archived`). A created channel joins the workspace's
channels, so the sandbox page lists it at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.sandbox.store import BOT_USER_ID, JSON, Channel, Store

MAX_NAME = 80
MAX_TOPIC = 250  # Slack's limit for a topic and for a purpose
_SPECIALS = re.compile(r"[^a-z0-9_-]")

Handler = Callable[[JSON], JSON]


def _error(code: str) -> JSON:
    return {"ok": False, "error": code}


@dataclass
class ChannelState:
    creator: str = BOT_USER_ID
    created: int = 0
    members: list[str] = field(default_factory=list)
    topic: str = ""
    purpose: str = ""
    pins: list[str] = field(default_factory=list)
    archived: bool = False


class ChannelMethods:
    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self.store = store
        self._clock = clock
        self.state: dict[str, ChannelState] = {}
        self._next = 1
        self.methods: dict[str, Handler] = {
            "conversations.create": self.create,
            "conversations.invite": self.invite,
            "conversations.setTopic": lambda args: self._set(args, "topic"),
            "conversations.setPurpose": lambda args: self._set(args, "purpose"),
            "conversations.archive": self.archive,
            "pins.add": self.pins_add,
        }

    def of(self, channel: str) -> ChannelState:
        return self.state.setdefault(channel, ChannelState())

    def by_name(self, name: str) -> Channel | None:
        return next((c for c in self.store.channels.values() if c.name == name), None)

    def create(self, args: JSON) -> JSON:
        name = str(args.get("name") or "")
        if not name:
            return _error("invalid_name_required")
        if len(name) > MAX_NAME:
            return _error("invalid_name_maxlength")
        if _SPECIALS.search(name):
            return _error("invalid_name_specials")
        if self.by_name(name) is not None:
            return _error("name_taken")
        channel_id = f"C0NEW{self._next:05d}"
        self._next += 1
        private = str(args.get("is_private", "")).lower() in ("1", "true")
        self.store.channels[channel_id] = Channel(channel_id, name, private, True)
        self.state[channel_id] = ChannelState(created=int(self._clock()), members=[BOT_USER_ID])
        return {
            "ok": True,
            "channel": {
                "id": channel_id,
                "name": name,
                "is_channel": True,
                "is_private": private,
                "created": int(self._clock()),
                "creator": BOT_USER_ID,
                "is_member": True,
            },
        }

    def _channel(self, args: JSON) -> str | JSON:
        channel = str(args.get("channel") or "")
        if channel not in self.store.channels:
            return _error("channel_not_found")
        if self.of(channel).archived:
            return _error("is_archived")
        return channel

    def invite(self, args: JSON) -> JSON:
        channel = self._channel(args)
        if isinstance(channel, dict):
            return channel
        users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if not users:
            return _error("no_user")
        state = self.of(channel)
        for user in users:
            if user == BOT_USER_ID:
                return _error("cant_invite_self")
            if user not in self.store.users:
                return _error("user_not_found")
            if user in state.members:
                return _error("already_in_channel")
        state.members.extend(users)
        return {"ok": True, "channel": {"id": channel}}

    def _set(self, args: JSON, what: str) -> JSON:
        channel = self._channel(args)
        if isinstance(channel, dict):
            return channel
        value = str(args.get(what) or "")
        if len(value) > MAX_TOPIC:
            return _error("too_long")
        setattr(self.of(channel), what, value)
        return {"ok": True, what: value}

    def archive(self, args: JSON) -> JSON:
        channel = str(args.get("channel") or "")
        if channel not in self.store.channels:
            return _error("channel_not_found")
        state = self.of(channel)
        if state.archived:
            return _error("already_archived")
        state.archived = True
        return {"ok": True}

    def pins_add(self, args: JSON) -> JSON:
        channel = self._channel(args)
        if isinstance(channel, dict):
            return channel
        ts = str(args.get("timestamp") or "")
        if self.store.find(channel, ts) is None:
            return _error("message_not_found")
        state = self.of(channel)
        if ts in state.pins:
            return _error("already_pinned")
        state.pins.append(ts)
        return {"ok": True}

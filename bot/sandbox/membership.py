"""Who is in which conversation, as Slack's Web API enforces it for the bot.

Slack shows a bot only the conversations it is a member of: `chat.postEphemeral` to one
it is not in is refused (`not_in_channel` where it could join, `channel_not_found` where
it cannot see), and `conversations.info` on a private
channel or a DM of other people answers the same. `conversations.open` with one user
opens (or finds) the app's DM with them, a conversation the bot is always in. These
rules wrap the Web API's handlers (bot/sandbox/webapi.py) rather than change them.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.sandbox.store import JSON, Channel, Store
from bot.sandbox.webapi import error, opt_str

Handler = Callable[[JSON], JSON]


class Membership:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.ims: dict[str, str] = {}  # user id -> the app's DM channel with them

    def wrap(self, methods: dict[str, Handler]) -> None:
        """Add conversations.open; make chat.postEphemeral and conversations.info keep to
        the conversations the bot is in."""
        post_ephemeral, info = methods["chat.postEphemeral"], methods["conversations.info"]
        methods["conversations.open"] = self.conversations_open
        methods["chat.postEphemeral"] = lambda args: self._member_only(args) or post_ephemeral(args)
        methods["conversations.info"] = lambda args: self._info(args, info)

    def _member_only(self, args: JSON) -> JSON | None:
        """Slack's answer outside the bot's conversations: `not_in_channel` for a public
        channel it can see, `channel_not_found` for a private one or other people's DM."""
        channel = self.store.channels.get(opt_str(args.get("channel")) or "")
        if channel is None or channel.is_member:
            return None
        return error("channel_not_found" if _hidden(channel) else "not_in_channel")

    def _info(self, args: JSON, info: Handler) -> JSON:
        channel = self.store.channels.get(opt_str(args.get("channel")) or "")
        if channel is not None and not channel.is_member and _hidden(channel):
            return error("channel_not_found")
        answer = info(args)
        user = next((u for u, c in self.ims.items() if channel and c == channel.id), None)
        if user is not None and isinstance(answer.get("channel"), dict):
            answer["channel"] = {**answer["channel"], "is_im": True, "is_channel": False}
            answer["channel"]["user"] = user
        return answer

    def conversations_open(self, args: JSON) -> JSON:
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if not users:
            return error("users_list_not_supplied")
        if len(users) > 1:
            return error("not_implemented")  # group DMs: the bot never opens one
        user = self.store.users.get(users[0])
        if user is None or user.deleted:
            return error("user_not_found")
        channel_id = self.ims.get(user.id)
        if channel_id is None:
            channel_id = f"D{user.id[1:]}"[:11]
            self.ims[user.id] = channel_id
            self.store.channels[channel_id] = Channel(
                channel_id, f"dm-{user.name}", is_private=True, is_member=True
            )
        return {"ok": True, "channel": {"id": channel_id}}


def _hidden(channel: Channel) -> bool:
    """Private channels and DMs are invisible to a bot outside them."""
    return channel.is_private or channel.id.startswith("D")

"""The emulator's sending side: it plays Slack calling the bot.

Slack delivers slash commands, reaction events and button clicks to the app's
`/slack/events` URL, signed with the signing secret. The driver builds those requests
from the workspace state (so a click carries the message as it is stored now), signs
them and posts them, and hands back what the bot answered so tests can assert on the
acknowledgement as well as on what the bot did afterwards.

Transport: when the app holds a Socket Mode connection (see `socket_mode.py`), commands,
reactions and clicks go over it as envelopes instead of HTTP, as Slack does for an app
with Socket Mode on; the envelope's ack then stands in for the HTTP answer (status 200,
`json` = the ack's payload, `transport` = "socket"). `send_raw` is always HTTP.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.sandbox import payloads
from bot.sandbox.signing import signature_headers
from bot.sandbox.socket_mode import EVENTS_API, INTERACTIVE, SLASH_COMMANDS, SocketModeServer
from bot.sandbox.store import JSON, Channel, ResponseTarget, Store, User

FORM = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
# Slack itself gives up after 3 s and retries; a test wants the real answer instead.
SEND_TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass
class BotResponse:
    """What the bot answered to one delivery, and what was delivered."""

    status: int
    headers: dict[str, str]
    text: str
    json: Any | None
    sent: dict[str, Any] = field(default_factory=dict)
    # The exact bytes and headers delivered, so a test can replay them.
    sent_body: bytes = b""
    sent_headers: dict[str, str] = field(default_factory=dict)
    # "http" (a signed POST to bot_url) or "socket" (an envelope over Socket Mode).
    transport: str = "http"
    envelope_id: str | None = None


class BotDriver:
    def __init__(
        self,
        store: Store,
        signing_secret: str,
        wall_clock: Callable[[], float],
        response_url_base: Callable[[], str],
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.signing_secret = signing_secret
        self.bot_url: str | None = None
        # Set by the emulator; used while an app holds a Socket Mode connection.
        self.socket: SocketModeServer | None = None
        self._wall_clock = wall_clock
        self._response_url_base = response_url_base
        # The emulator's clock, which a response_url's 30 minutes are counted on.
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        when = int(self._wall_clock()) if timestamp is None else timestamp
        return signature_headers(self.signing_secret, body, when)

    async def send_raw(
        self,
        body: bytes,
        headers: dict[str, str],
        content_type: str,
        *,
        sent: dict[str, Any] | None = None,
    ) -> BotResponse:
        if self.bot_url is None:
            raise RuntimeError("bot_url is not set: point it at the bot's /slack/events")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=SEND_TIMEOUT)
        all_headers = {**headers, "Content-Type": content_type}
        async with self._session.post(self.bot_url, data=body, headers=all_headers) as res:
            text = await res.text()
            try:
                parsed: Any | None = json.loads(text) if text else None
            except ValueError:
                parsed = None
            return BotResponse(
                res.status, dict(res.headers), text, parsed, sent or {}, body, dict(headers)
            )

    async def _send_signed(
        self, body: bytes, content_type: str, sent: dict[str, Any], extra: dict[str, str]
    ) -> BotResponse:
        return await self.send_raw(body, {**self.sign(body), **extra}, content_type, sent=sent)

    def _use_socket(self) -> bool:
        return self.socket is not None and self.socket.connected

    async def _send_envelope(
        self,
        type: str,
        payload: JSON,
        *,
        accepts_response_payload: bool,
        retry_attempt: int | None = None,
    ) -> BotResponse:
        assert self.socket is not None
        delivery = await self.socket.deliver(
            type,
            payload,
            accepts_response_payload=accepts_response_payload,
            retry_attempt=retry_attempt,
        )
        ack = delivery.ack_payload
        return BotResponse(
            200,
            {},
            "" if ack is None else json.dumps(ack),
            ack,
            dict(payload),
            json.dumps(delivery.envelope).encode(),
            {},
            transport="socket",
            envelope_id=delivery.envelope_id,
        )

    def _user(self, user_id: str) -> User:
        user = self.store.users.get(user_id)
        if user is None:
            raise LookupError(f"unknown user {user_id!r}; register it with add_user()")
        return user

    def _channel(self, channel_id: str) -> Channel:
        channel = self.store.channels.get(channel_id)
        if channel is None:
            raise LookupError(f"unknown channel {channel_id!r}; register it with add_channel()")
        return channel

    def _response_url(self, channel: str, user: str, message_ts: str | None) -> str:
        target = ResponseTarget(uuid.uuid4().hex, channel, user, message_ts)
        target.issued_at = None if self._clock is None else self._clock()
        self.store.response_targets[target.id] = target
        return f"{self._response_url_base()}{target.id}"

    async def send_command(
        self, command: str, text: str, *, user: str, channel: str
    ) -> BotResponse:
        the_user, the_channel = self._user(user), self._channel(channel)
        form = payloads.slash_command(
            command=command,
            text=text,
            user=the_user,
            channel=the_channel,
            response_url=self._response_url(channel, user, None),
        )
        if self._use_socket():
            return await self._send_envelope(
                SLASH_COMMANDS, dict(form), accepts_response_payload=True
            )
        return await self._send_signed(urlencode(form).encode(), FORM, dict(form), {})

    async def send_reaction(
        self,
        *,
        user: str,
        reaction: str,
        channel: str,
        ts: str,
        removed: bool = False,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> BotResponse:
        self._user(user)
        self._channel(channel)
        message = self.store.find(channel, ts)
        # A redelivery is the same event, so it must not count the reaction twice.
        if message is not None and retry_num is None:
            users = message.reactions.setdefault(reaction, [])
            if removed and user in users:
                users.remove(user)
            elif not removed and user not in users:
                users.append(user)
            if not users:
                del message.reactions[reaction]
        envelope = payloads.reaction_event(
            user=user,
            reaction=reaction,
            channel=channel,
            ts=ts,
            item_user=None if message is None else message.user,
            removed=removed,
            event_id=event_id or payloads.random_id("Ev"),
            event_ts=self.store.next_ts(),
            event_time=int(self._wall_clock()),
        )
        if self._use_socket():
            return await self._send_envelope(
                EVENTS_API, envelope, accepts_response_payload=False, retry_attempt=retry_num
            )
        extra: dict[str, str] = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        body = json.dumps(envelope).encode()
        return await self._send_signed(body, JSON_TYPE, envelope, extra)

    async def send_block_action(
        self,
        *,
        user: str,
        action_id: str,
        value: str,
        channel: str,
        message_ts: str,
        block_id: str | None = None,
    ) -> BotResponse:
        the_user, the_channel = self._user(user), self._channel(channel)
        message = self.store.find(channel, message_ts) or self.store.find_ephemeral(
            channel, message_ts, user
        )
        if message is None:
            raise LookupError(f"no message {message_ts} in {channel} to click on")
        found = payloads.find_element(message.blocks, action_id)
        if block_id is None:
            if found is None:
                raise LookupError(
                    f"message {message_ts} has no element with action_id {action_id!r}; "
                    "pass block_id to click a button the message no longer shows"
                )
            block_id = found[0]
        payload = payloads.block_actions(
            user=the_user,
            channel=the_channel,
            message=message,
            action_id=action_id,
            block_id=block_id,
            element=None if found is None else found[1],
            value=value,
            response_url=self._response_url(channel, user, message_ts),
            action_ts=f"{self._wall_clock():.6f}",
        )
        if self._use_socket():
            # Slack's documented block_actions envelope says accepts_response_payload: true.
            return await self._send_envelope(INTERACTIVE, payload, accepts_response_payload=True)
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self._send_signed(body, FORM, payload, {})


def control_body(response: BotResponse) -> JSON:
    """A bot answer as the control API reports it."""
    body: Any = response.json if response.json is not None else response.text
    return {"ok": True, "status": response.status, "body": body}

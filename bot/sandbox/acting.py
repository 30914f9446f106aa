"""Slack's side towards the bot: what Slack sends when people act, by HTTP or socket.

The emulator plays the users: slash commands, reactions and button clicks reach the
bot's `/slack/events` signed with the signing secret, exactly as Slack signs them, or,
while the bot holds a Socket Mode connection, as envelopes over that WebSocket (which
the bot must ack within 3 s, else `AckTimeout`). The delivery itself is
`bot.sandbox.driver` and `bot.sandbox.socket_mode`; this is the emulator's face for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from bot.sandbox.driver import BotDriver, BotResponse
from bot.sandbox.inspection import Inspection
from bot.sandbox.response_url import apply_response
from bot.sandbox.socket_mode import Delivery, SocketModeServer
from bot.sandbox.store import JSON, ResponseTarget


class ActingForUsers(Inspection):
    """Mixed into `SlackEmulator`, which builds the driver and the socket server."""

    socket: SocketModeServer
    # The app's slash commands (its manifest); None accepts any, as tests want.
    slash_commands: set[str] | None
    _driver: BotDriver
    _clock: Callable[[], float]

    # -- Socket Mode ----------------------------------------------------------------

    @property
    def app_token(self) -> str | None:
        """The app-level token `apps.connections.open` accepts; None: Socket Mode is off."""
        return self.socket.app_token

    @app_token.setter
    def app_token(self, value: str | None) -> None:
        self.socket.app_token = value

    @property
    def socket_connected(self) -> bool:
        """True while the app holds a Socket Mode connection (deliveries then use it)."""
        return self.socket.connected

    async def wait_for_socket(self, timeout: float = 5.0) -> None:
        """Wait until the app has connected by Socket Mode."""
        await self.socket.wait_connected(timeout)

    async def disconnect_socket(self, reason: str = "refresh_requested") -> int:
        """Send Slack's `disconnect` message; the app should reconnect with a new URL."""
        return await self.socket.disconnect(reason)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every Socket Mode envelope sent to the app, with its ack (or failure)."""
        return list(self.socket.deliveries)

    # -- driving the bot (Slack -> bot) -------------------------------------------

    @property
    def signing_secret(self) -> str:
        """The secret deliveries are signed with; the bot must verify with the same."""
        return self._driver.signing_secret

    @signing_secret.setter
    def signing_secret(self, value: str) -> None:
        self._driver.signing_secret = value

    @property
    def bot_url(self) -> str | None:
        """The bot's `/slack/events` URL; set it before sending anything."""
        return self._driver.bot_url

    @bot_url.setter
    def bot_url(self, value: str | None) -> None:
        self._driver.bot_url = value

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """Slack's signature headers for `body` (timestamp defaults to now)."""
        return self._driver.sign(body, timestamp)

    async def send_raw(
        self, body: bytes, headers: dict[str, str], content_type: str
    ) -> BotResponse:
        """Post exactly this to the bot: for forged, stale or replayed requests."""
        return await self._driver.send_raw(body, headers, content_type)

    async def send_command(
        self, command: str, text: str, *, user: str, channel: str
    ) -> BotResponse:
        response = await self._driver.send_command(command, text, user=user, channel=channel)
        if response.transport == "socket" and isinstance(response.json, dict) and response.json:
            self._show_command_ack(channel, user, response.json)
        return response

    def _show_command_ack(self, channel: str, user: str, payload: JSON) -> None:
        """A command's ack payload is its immediate response: Slack shows it like one.

        It is recorded in `responses` as a response_url post would be (its own target,
        so it does not use up one of the command's five response_url uses).
        """
        target = ResponseTarget(uuid.uuid4().hex, channel, user, None)
        outcome = apply_response(self.store, target, payload, self._clock())
        if outcome.status == 200 and outcome.message is not None:
            self._notify("response", outcome.message)

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
        return await self._driver.send_reaction(
            user=user,
            reaction=reaction,
            channel=channel,
            ts=ts,
            removed=removed,
            event_id=event_id,
            retry_num=retry_num,
        )

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
        return await self._driver.send_block_action(
            user=user,
            action_id=action_id,
            value=value,
            channel=channel,
            message_ts=message_ts,
            block_id=block_id,
        )

"""An in-process Slack: Web API server, workspace state and Slack's side of the events.

The bot must be runnable and testable without a Slack workspace. In sandbox mode
(`chatops serve --sandbox`) and in every test that involves Slack, the
bot's `AsyncWebClient` points at this emulator instead of https://slack.com/api/, and
the emulator plays the users: it sends signed slash commands, reactions and button
clicks to the bot's `/slack/events`. It answers with Slack's documented shapes and
error words, enforces Block Kit limits, can rate-limit, fail and hang on demand, refuses
images Slack could not download and posts where the bot is not a member, and records
everything so tests assert on what the bot actually did.

The pieces: `webapi` (method semantics), `blocks` (validation), `store` (state),
`limits` (rate limit, faults), `inspection` (what tests read back, `wait_for`),
`acting` and `driver` (requests to the bot as the users), `response_url`,
`incoming_webhook` (Slack's `/services/...` endpoint, for Alertmanager's own receiver),
`socket_mode` (Slack's side of Socket Mode), `control` (JSON endpoints for the CLI)
`render` (terminal text), `page` (the workspace page) and `pagerduty*` (the sandbox's
PagerDuty). This module holds the server, the workspace's people and channels, faults
and the Web API's door (token, rate limit, outage).

Socket Mode: give the emulator an app-level token (`app_token="xapp-..."`); the bot
then opens a connection with `apps.connections.open`, and while it is connected every
`send_command` / `send_reaction` / `send_block_action` travels over that WebSocket as an
envelope (the bot must ack within 3 s, else `AckTimeout`). Without a connection they
are signed HTTP requests to `bot_url`, as before.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.sandbox.acting import ActingForUsers
from bot.sandbox.control import add_control_routes
from bot.sandbox.driver import BotDriver, BotResponse
from bot.sandbox.files import Files
from bot.sandbox.guard import SandboxGuard
from bot.sandbox.hang_control import add_hang_route
from bot.sandbox.http_args import bearer_token, read_args
from bot.sandbox.incoming_webhook import IncomingWebhooks
from bot.sandbox.inspection import EventHook
from bot.sandbox.limits import (
    TIER3_BURST,
    TIER3_METHODS,
    TIER3_PER_SECOND,
    Faults,
    Hold,
    Holds,
    TokenBuckets,
    default_error,
)
from bot.sandbox.membership import Membership
from bot.sandbox.page import WorkspacePage
from bot.sandbox.pagerduty import PagerDutyEmulator, Person
from bot.sandbox.pagerduty_panel import add_panel_routes
from bot.sandbox.pagerduty_rest import add_rest_routes
from bot.sandbox.response_url import apply_response
from bot.sandbox.socket_mode import AckTimeout, Delivery, NoSocketConnection, SocketModeServer
from bot.sandbox.store import (
    JSON,
    Call,
    Channel,
    Message,
    ResponsePost,
    Store,
    User,
    Usergroup,
)
from bot.sandbox.webapi import WebApi, error, opt_str
from bot.sandbox.webapi_channels import ChannelMethods

__all__ = [
    "AckTimeout",
    "BotResponse",
    "Call",
    "Delivery",
    "Message",
    "NoSocketConnection",
    "ResponsePost",
    "SlackEmulator",
    "default_workspace",
]


class SlackEmulator(ActingForUsers):
    def __init__(
        self,
        *,
        token: str = "xoxb-sandbox",  # noqa: S107 - the sandbox's fixed fake token
        signing_secret: str = "sandbox-signing-secret",  # noqa: S107
        rate_limit: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        on_event: EventHook | None = None,
        app_token: str | None = None,
    ) -> None:
        self.token = token
        # Both flags may be flipped while running, to start or end an "outage".
        self.rate_limit = rate_limit
        self.down = False
        self.on_event = on_event
        self._clock = clock
        self.store = Store(wall_clock)
        self.api = WebApi(self.store, clock, self._notify)
        self.files = Files(self.store, clock, self._notify, lambda: self.url)
        self.api.methods.update(self.files.methods)
        self.channels = ChannelMethods(self.store, clock)  # incident channels
        self.api.methods.update(self.channels.methods)
        # conversations.open; ephemerals and conversations.info only where the bot is in.
        self.membership = Membership(self.store)
        self.membership.wrap(self.api.methods)
        self._buckets = TokenBuckets(clock)
        self._tier3 = TokenBuckets(clock, capacity=TIER3_BURST, refill_per_second=TIER3_PER_SECOND)
        self._faults = Faults()
        self._holds = Holds()
        self._driver = BotDriver(
            self.store,
            signing_secret,
            wall_clock,
            lambda: f"{self.url}_emulator/response/",
            clock=clock,
        )
        self.socket = SocketModeServer(
            lambda: self.url, app_token=app_token, bot_token=lambda: self.token, clock=clock
        )
        self._driver.socket = self.socket
        # Slack's incoming-webhook endpoint (`POST /services/...`), for Alertmanager's
        # own `slack_configs` receiver; it shares the rate limit's per-channel buckets.
        self.incoming_webhooks = IncomingWebhooks(
            self.store,
            self._buckets,
            clock,
            rate_limited=lambda: self.rate_limit,
            down=lambda: self.down,
            notify=self._notify,
        )
        self.slash_commands = None
        # Changes the Web API calls do not show: PagerDuty incidents, for the page's stream.
        self._changes = 0
        self.pagerduty = PagerDutyEmulator(lambda: self.url, self._changed, self._people)
        self.page = WorkspacePage(self.store, self.pagerduty, self._fingerprint)
        self._runner: web.AppRunner | None = None
        self._root: str | None = None
        # Sandbox mode sets it before start(): Host, Origin and the control token checked.
        self.guard: SandboxGuard | None = None

    def _changed(self) -> None:
        self._changes += 1

    def _people(self) -> list[Person]:
        """PagerDuty's users: the workspace's people, with the same names and emails."""
        users = self.store.users.values()
        return [Person.of(u.id, u.real_name, u.email) for u in users if not u.is_bot]

    def _fingerprint(self) -> tuple[int, ...]:
        """Moves on whenever anything the workspace page shows has changed."""
        store = self.store
        reactions = sum(
            len(users)
            for messages in store.channel_messages.values()
            for message in messages
            for users in message.reactions.values()
        )
        return (
            len(store.calls),
            len(store.responses),
            len(store.ephemerals),
            reactions,
            self._changes,
        )

    # -- lifecycle ----------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(middlewares=[self.guard.middleware] if self.guard else [])
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/_emulator/response/{id}", self._handle_response_url)
        add_hang_route(app, self.hang, self.release)
        self.incoming_webhooks.add_routes(app)
        self.files.add_routes(app)
        self.socket.add_routes(app)
        add_control_routes(app, self)
        self.pagerduty.add_routes(app)
        add_rest_routes(app, self.pagerduty)
        add_panel_routes(app, self.pagerduty)
        self.page.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104  # nosec B104
        self._root = f"http://{shown_host}:{bound_port}/"

    async def stop(self) -> None:
        self.page.close()
        await self.page.watchdog.stop()
        await self.pagerduty.close()
        await self.socket.close()
        await self._driver.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """The server root, e.g. "http://127.0.0.1:41234/"."""
        if self._root is None:
            raise RuntimeError("the emulator is not started")
        return self._root

    @property
    def base_url(self) -> str:
        """What `AsyncWebClient(base_url=...)` takes: the root plus "api/"."""
        return f"{self.url}api/"

    # -- workspace ----------------------------------------------------------------

    def add_channel(
        self, id: str, name: str, *, is_private: bool = False, is_member: bool = True
    ) -> Channel:
        channel = Channel(id, name.lstrip("#"), is_private, is_member)
        self.store.channels[id] = channel
        return channel

    def add_user(
        self,
        id: str,
        name: str,
        real_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        *,
        deleted: bool = False,
        tz: str = "Etc/UTC",
    ) -> User:
        user = User(
            id,
            name,
            real_name or name.title(),
            email or f"{name}@example.com",
            is_bot=is_bot,
            deleted=deleted,
            tz=tz,
        )
        self.store.users[id] = user
        return user

    def add_usergroup(self, id: str, handle: str, users: list[str]) -> Usergroup:
        group = Usergroup(id, handle, list(users))
        self.store.usergroups[id] = group
        return group

    # -- faults -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        times: int = 1,
        retry_after: int | None = None,
        error: str | None = None,
        body: JSON | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with `status` (and Retry-After).

        The body is `{"ok": false, "error": ...}`: `ratelimited` for 429, else `error`
        or `fatal_error`; status 200 with `error` fakes a plain Slack error answer; `body`
        adds the rest of Slack's answer (`errors`, `response_metadata`, `warnings`).
        """
        self._faults.add(
            method, status=status, times=times, retry_after=retry_after, error=error, extra=body
        )

    def hang(
        self,
        seconds: float,
        *,
        channel: str | None = None,
        method: str | None = None,
        delay: float | None = None,
    ) -> None:
        """Hold the Web API calls (of `method`, to `channel`) arriving in the next
        `seconds`: each until the window ends, or `delay` seconds when given (a slow
        Slack). A held call is then handled as usual, whether its client still waits."""
        self._holds.add(seconds, method=method, channel=channel, delay=delay)

    def release(self) -> None:
        """End every `hang` now; the held calls are handled at once."""
        self._holds.release()

    @property
    def held_calls(self) -> int:
        """Web API calls a `hang` holds at this moment."""
        return self._holds.held

    def refuse_images_from(self, *hosts: str) -> None:
        """Image blocks with a URL on these hosts are refused as Slack refuses an image it
        cannot download (beyond the internal hosts it can never reach: images.py)."""
        self.api.unfetchable_image_hosts.update(h.lower() for h in hosts)

    # -- HTTP (bot -> Slack) ------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        at = self._clock()
        args, malformed = await read_args(request)
        token = bearer_token(request) or args.pop("token", None)
        args.pop("token", None)
        hold = self._holds.find(method, opt_str(args.get("channel") or args.get("channel_id")))
        if hold is not None:
            # Handled when the hold ends even if the client has gone: shielded.
            return await asyncio.shield(self._held(hold, method, args, token, malformed))
        status, body, headers = self._answer(method, args, token, malformed)
        self.store.calls.append(Call(method, args, status, body, at))
        return web.json_response(body, status=status, headers=headers)

    async def _held(
        self, hold: Hold, method: str, args: JSON, token: object, malformed: bool
    ) -> web.Response:
        await hold.wait()
        status, body, headers = self._answer(method, args, token, malformed)
        self.store.calls.append(Call(method, args, status, body, self._clock()))
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, method: str, args: JSON, token: object, malformed: bool
    ) -> tuple[int, JSON, dict[str, str]]:
        if self.down:
            return 503, error("service_unavailable"), {}
        fault = self._faults.take(method)
        if fault is not None:
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return fault.status, {**error(fault.error), **fault.extra}, headers
        if method == "apps.connections.open":
            # Takes the app-level token, not the bot's (socket_mode.SocketModeServer.open).
            return 200, self.socket.open(token), {}
        handler = self.api.methods.get(method)
        if handler is None:
            return 200, error("unknown_method", req_method=method), {}
        if token is None or token == "":
            return 200, error("not_authed"), {}
        if self.socket.is_app_token(token):
            return 200, error("not_allowed_token_type"), {}
        if not hmac.compare_digest(str(token).encode(), self.token.encode()):
            return 200, error("invalid_auth"), {}
        if malformed:
            return 200, error("invalid_json"), {}
        if self.rate_limit:
            wait = self._rate_limited(method, args)
            if wait:
                return 429, error(default_error(429)), {"Retry-After": str(wait)}
        return 200, handler(args), {}

    def _rate_limited(self, method: str, args: dict[str, Any]) -> int:
        """Seconds to wait (0: go ahead): posts per channel, Tier 3 methods per workspace."""
        if method == "chat.postMessage":
            return self._buckets.take(str(args.get("channel")))
        if method in TIER3_METHODS:
            return self._tier3.take(method)
        return 0

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        target = self.store.response_targets.get(request.match_info["id"])
        try:
            body: Any = await request.json()
        except ValueError:
            body = await request.text()
        outcome = apply_response(self.store, target, body, self._clock())
        if outcome.status == 200 and outcome.message is not None:
            self._notify("response", outcome.message)
        return web.json_response(outcome.body, status=outcome.status)


def default_workspace(emulator: SlackEmulator) -> None:
    """Seed the channels, people and group that `examples/chatops.yaml` names."""
    emulator.add_channel("C0000PAYMT", "payments-alerts")
    emulator.add_channel("C0000ALERT", "alerts")
    emulator.add_channel("C0000INCID", "incidents")
    emulator.add_channel("C0000DEPLY", "deploys")
    # Conversations the bot is not in, where commands are answered through response_url.
    emulator.add_channel("D0000DMDAN", "dm-dana-ari", is_private=True, is_member=False)
    emulator.add_channel("C0000PRIVT", "ops-private", is_private=True, is_member=False)
    emulator.add_user("U0000DEP01", "dana", "Dana Deployer")
    emulator.add_user("U0000APR01", "ari", "Ari Approver")
    emulator.add_user("U0000APR02", "bo", "Bo Approver")
    emulator.add_user("U0000APR03", "cy", "Cy Approver")
    emulator.add_user("U0000ONC01", "olu", "Olu Oncall")
    emulator.add_user("U0000OUT01", "sam", "Sam Outsider")
    emulator.add_usergroup("S0000ONCAL", "oncall", ["U0000ONC01", "U0000APR01"])

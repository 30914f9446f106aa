"""Slack's incoming-webhook endpoint, for senders that are not the bot.

Alertmanager's own `slack_configs` receiver does not call the Web API: it POSTs an
incoming-webhook payload (`{channel, username, text, attachments, ...}`, no token) to
its `api_url`, normally `https://hooks.slack.com/services/T.../B.../...`. To compare it
with the bot against the same emulated Slack, the emulator serves that endpoint too:
`POST /services/<anything>`.

What Slack does, and so what this does: the answer is plain text, `ok` with 200, or an
error word with a 4xx (`invalid_payload` 400, `no_text` 400, `channel_not_found` 404).
Legacy webhooks honour the payload's `channel` (an id, `#name` or `name`); without
one the post goes to the webhook's own channel, which the emulator takes from
`default_channel` (None: `channel_not_found`). Under the emulator's rate limit the same
per-channel bucket as `chat.postMessage` applies and a refused post is answered 429
`rate_limited` with `Retry-After`. Every POST is recorded as a `Call` with method
`incoming-webhook` (the channel id in `args["channel"]` when it was resolved).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from bot.sandbox.store import JSON, Call, Message, MessageVersion, Store

if TYPE_CHECKING:
    from bot.sandbox.limits import TokenBuckets

METHOD = "incoming-webhook"
# The user an incoming webhook posts as (Slack shows the payload's `username` over it).
WEBHOOK_USER_ID = "U0WEBHOOK1"


@dataclass
class _Answer:
    status: int
    word: str
    channel: str | None = None
    payload: JSON = field(default_factory=dict)
    retry_after: int | None = None


class IncomingWebhooks:
    """The `/services/...` endpoint of one emulated workspace."""

    def __init__(
        self,
        store: Store,
        buckets: TokenBuckets,
        clock: Callable[[], float],
        *,
        rate_limited: Callable[[], bool],
        down: Callable[[], bool],
        notify: Callable[[str, Message], None],
    ) -> None:
        self._store = store
        self._buckets = buckets
        self._clock = clock
        self._rate_limited = rate_limited
        self._down = down
        self._notify = notify
        self.default_channel: str | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/services/{path:.*}", self.handle)

    def calls(self) -> list[Call]:
        return [c for c in self._store.calls if c.method == METHOD]

    def counts(self) -> Counter[str]:
        """Posts received per resolved channel id (accepted or not)."""
        return Counter(str(c.args["channel"]) for c in self.calls() if c.args.get("channel"))

    async def handle(self, request: web.Request) -> web.Response:
        at = self._clock()
        raw = await request.read()
        answer = self._answer(raw, at)
        args: JSON = dict(answer.payload)
        if answer.channel is not None:
            args["channel"] = answer.channel
        ok = answer.status == 200
        body: JSON = {"ok": True} if ok else {"ok": False, "error": answer.word}
        self._store.calls.append(Call(METHOD, args, answer.status, body, at))
        headers = {} if answer.retry_after is None else {"Retry-After": str(answer.retry_after)}
        return web.Response(status=answer.status, text=answer.word, headers=headers)

    def _answer(self, raw: bytes, at: float) -> _Answer:
        if self._down():
            return _Answer(503, "service_unavailable")
        try:
            payload = json.loads(raw) if raw.strip() else None
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return _Answer(400, "invalid_payload")
        channel = self._resolve(payload.get("channel"))
        if channel is None:
            return _Answer(404, "channel_not_found", payload=payload)
        text = payload.get("text")
        attachments = payload.get("attachments")
        blocks = payload.get("blocks")
        if not text and not attachments and not blocks:
            return _Answer(400, "no_text", channel, payload)
        if self._rate_limited():
            wait = self._buckets.take(channel)
            if wait:
                return _Answer(429, "rate_limited", channel, payload, retry_after=wait)
        message = Message(
            ts=self._store.next_ts(),
            channel=channel,
            text="" if text is None else str(text),
            blocks=blocks if isinstance(blocks, list) else [],
            user=WEBHOOK_USER_ID,
            attachments=attachments if isinstance(attachments, list) else [],
        )
        message.versions.append(MessageVersion(message.text, message.blocks, at))
        self._store.add_message(message)
        self._notify("post", message)
        return _Answer(200, "ok", channel, payload)

    def _resolve(self, value: object) -> str | None:
        """A channel id from an id, `#name` or `name`; else the webhook's own channel."""
        if value is None or value == "":
            return self.default_channel
        wanted = str(value)
        if wanted in self._store.channels:
            return wanted
        name = wanted.lstrip("#")
        for channel in self._store.channels.values():
            if channel.name == name:
                return channel.id
        return None

"""The Slack request being answered: its response_url, for the answers it causes.

A slash command or a click carries a response_url, which reaches the person in whatever
conversation they typed or clicked in (a DM, a private channel the bot is not in). The
middleware in bot/slack/answers.py stores it and sets it here; work the listener starts
(tasks copy the context they are created in) queues its answers with it, so features
need not pass it along. An answer counts as the request's own only when it is for the
same person in the same conversation: a response_url shows only to whoever acted.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Answering:
    """A stored response_url (its row id) and whom, where, it answers."""

    url_id: int
    channel: str
    user: str


_CURRENT: ContextVar[Answering | None] = ContextVar("slack_answering", default=None)


def answering(current: Answering | None) -> None:
    """The request now being handled in this context (None: one without a response_url)."""
    _CURRENT.set(current)


def response_url_for(channel: str, user: str) -> int | None:
    """The stored response_url that answers `user` in `channel`, if the request being
    handled carries one for them there."""
    current = _CURRENT.get()
    if current is None or current.channel != channel or current.user != user:
        return None
    return current.url_id

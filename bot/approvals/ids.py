"""How approval requests are named: their ids, their subject in the audit trail and the
key of their Slack message in the outbox.

Operations and runbook steps open approval requests alike; both name them here so that
`chatops audit` finds every event of one request under one subject, and a reaction on a
message leads back to its request.
"""

from __future__ import annotations

import uuid

from bot.audit import trail

SYSTEM = trail.SYSTEM


def subject(request_id: str) -> str:
    return f"approval:{request_id}"


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def message_key(request_id: str) -> str:
    return f"approval:{request_id}"


def request_id_of(key: str) -> str | None:
    return key.removeprefix("approval:") if key.startswith("approval:") else None

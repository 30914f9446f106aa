"""How approval requests are named: their ids, and their subject in the audit trail.

Operations and runbook steps open approval requests alike; both name them here so that
`chatops audit` finds every event of one request under one subject.
"""

from __future__ import annotations

import uuid

from bot.audit import trail

SYSTEM = trail.SYSTEM


def subject(request_id: str) -> str:
    return f"approval:{request_id}"


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]

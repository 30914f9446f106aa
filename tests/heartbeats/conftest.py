"""Heartbeat tests run the bot against the PagerDuty stand-in, as escalation's do."""

from __future__ import annotations

from tests.escalation.conftest import pd_server, start_bot

__all__ = ["pd_server", "start_bot"]

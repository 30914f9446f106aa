"""The PagerDuty stand-in and a bot wired to it, shared from the escalation fixtures."""

from tests.escalation.conftest import pd_server, start_bot

__all__ = ["pd_server", "start_bot"]

"""The escalation fixtures (PagerDuty stand-in, a bot wired to it) are shared here."""

from tests.escalation.conftest import pd_server, start_bot

__all__ = ["pd_server", "start_bot"]

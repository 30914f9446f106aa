"""Severity-aware escalation: durable timers per alert group, run by one process."""

"""Incidents in Slack: declared from an alert or by hand, each with a channel of its own."""

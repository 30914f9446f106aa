"""Alerts in Slack: webhooks stored and processed, one message per group, buttons, storms."""

"""PagerDuty both ways: a durable page queue out, signed webhooks and buttons in."""

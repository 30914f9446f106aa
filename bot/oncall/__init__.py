"""Who is on call: PagerDuty on-calls read for /oncall, handoffs and alert messages."""

"""The outbox: the one place that calls the Slack Web API.

Everything the bot says in Slack is queued as a row in the caller's transaction
(bot/slack/outbox_queue.py); the `Outbox` loop of every replica (worker.py) sends those
rows. Each pass claims the next rows (claiming.py) as far as each channel's pacing allows
(pacing.py), sends to different channels concurrently, one channel's calls in order
(sending.py), and records every outcome in one transaction (recording.py). So a P0 never
waits behind another channel's backlog or another channel's 429, and the database sees a
handful of statements per pass, not one round trip per call. Rows claimed by a replica
that stopped are looked up in Slack before they are sent again (recovery.py).

Nothing is deleted, so nothing is lost without a trace: a row Slack refused for good is
kept as `failed` with Slack's error.
"""

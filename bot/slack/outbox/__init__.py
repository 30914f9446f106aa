"""The outbox: the one place that calls the Slack Web API.

Everything the bot says in Slack is queued as a row in the caller's transaction
(bot/slack/outbox_queue.py); the `Outbox` loop of every replica (worker.py) sends those
rows. Each pass claims the next rows (claiming.py) as far as each channel's pacing allows
(pacing.py), for every channel that has no call in flight, and hands each channel's rows
to a sending task of its own (sending.py), which sends them in order and records their
outcomes in one transaction (recording.py). The loop never waits for a call: a P0 never
waits behind another channel's backlog, its 429 or a call Slack is slow to answer. A post
whose call timed out, like one claimed by a replica that stopped (recovery.py), is looked
up in Slack before it is sent again (lookup.py).

Nothing is deleted, so nothing is lost without a trace: a row Slack refused for good is
kept as `failed` with Slack's whole answer (refusals.py, `chatops slack failed`).
"""

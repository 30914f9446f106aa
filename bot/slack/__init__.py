"""Talking to Slack: the bolt app, the paced outbox, Socket Mode, the replay guard."""

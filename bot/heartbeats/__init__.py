"""Heartbeats: signals the bot expects, and what it does when one stops."""

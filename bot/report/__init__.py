"""Operational figures (the seed's "Key Metrics to Monitor") from what the bot stores."""

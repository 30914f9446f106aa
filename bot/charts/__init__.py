"""PNG charts for Slack threads, rendered with matplotlib off screen (Agg)."""

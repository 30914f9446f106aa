"""What pruning removed, on /metrics (a panel on the dashboard's Storage row)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from bot.clock import Clock
from bot.retention.pruning import PRUNED_TABLES, Pruned


class RetentionFigures:
    def __init__(self, registry: CollectorRegistry, clock: Clock) -> None:
        self._clock = clock
        self.pruned = Counter(
            "chatops_retention_pruned_rows_total",
            "Rows removed by retention (retention: in the config), by table.",
            ["table"],
            registry=registry,
        )
        for table in PRUNED_TABLES:  # a known, bounded label set, shown as 0 from the start
            self.pruned.labels(table)
        self.last_prune = Gauge(
            "chatops_retention_last_prune_timestamp_seconds",
            "When this replica last finished a retention pass (only the timer holder prunes;"
            " 0 on the others).",
            registry=registry,
        )

    def record(self, pruned: Pruned) -> None:
        for table, count in pruned.rows.items():
            self.pruned.labels(table).inc(count)
        self.last_prune.set(self._clock.now().timestamp())

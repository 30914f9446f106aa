"""A service's HTTP metrics on loopback, with the error ratio and latency the test sets.

It exposes what the default bake analysis queries read, for both colours of `api`:
`http_requests_total{service, colour, status}` and the histogram
`http_request_duration_seconds{service, colour}`. Counters grow with real time at each
scrape (100 requests a second per colour), so Prometheus's `rate()` sees exactly the
ratio and latency set at that moment. Blue always fails 10% of its requests: a query
that forgets the colour it should judge would see them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tests.support.prometheus import Exporter

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PER_SECOND = 100.0


@dataclass
class Colour:
    error_ratio: float = 0.0
    latency: float = 0.08
    requests: float = 0.0
    errors: float = 0.0
    buckets: list[float] = field(default_factory=lambda: [0.0] * (len(BUCKETS) + 1))
    latency_sum: float = 0.0

    def advance(self, seconds: float) -> None:
        n = PER_SECOND * seconds
        self.requests += n
        self.errors += n * self.error_ratio
        self.latency_sum += n * self.latency
        for index, le in enumerate((*BUCKETS, float("inf"))):
            if self.latency <= le:
                self.buckets[index] += n


class TrafficExporter(Exporter):
    def __init__(self) -> None:
        super().__init__()
        self.green = Colour()
        self.blue = Colour(error_ratio=0.10)
        self._at = time.monotonic()

    def exposition(self) -> str:
        now = time.monotonic()
        for colour in (self.green, self.blue):
            colour.advance(now - self._at)
        self._at = now
        lines = [
            "# TYPE http_requests_total counter",
            "# TYPE http_request_duration_seconds histogram",
        ]
        for name, c in (("green", self.green), ("blue", self.blue)):
            labels = f'service="api",colour="{name}"'
            lines.append(f'http_requests_total{{{labels},status="200"}} {c.requests - c.errors}')
            lines.append(f'http_requests_total{{{labels},status="500"}} {c.errors}')
            for le, count in zip((*BUCKETS, "+Inf"), c.buckets, strict=True):
                lines.append(f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {count}')
            lines.append(f"http_request_duration_seconds_sum{{{labels}}} {c.latency_sum}")
            lines.append(f"http_request_duration_seconds_count{{{labels}}} {c.requests}")
        return "\n".join(lines) + "\n"

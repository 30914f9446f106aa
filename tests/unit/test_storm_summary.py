"""The storm summary names every folded group within Slack's message limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from alerts.blocks import MAX_BLOCKS, MAX_SECTION
from alerts.storm_summary import StormItem, render_storm

T0 = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def item(n: int, alertname: str, service: str = "api", **kw: object) -> StormItem:
    values: dict[str, object] = {
        "group_id": n,
        "alertname": alertname,
        "service": service,
        "scope": f"node-{n:03d}",
        "status": "firing",
        "changed_at": T0 + timedelta(seconds=n),
    }
    values.update(kw)
    return StormItem(**values)  # type: ignore[arg-type]


def texts(payload: dict[str, object]) -> list[str]:
    blocks = payload["blocks"]
    assert isinstance(blocks, list)
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def test_five_hundred_groups_are_all_named_within_slacks_limits() -> None:
    items = [item(n, f"Alert{n % 40:02d}", f"svc{n % 3}") for n in range(500)]
    payload = render_storm(items, threshold=8)
    blocks = payload["blocks"]
    assert isinstance(blocks, list)
    assert len(blocks) <= MAX_BLOCKS
    sections = texts(payload)
    assert all(len(s) <= MAX_SECTION for s in sections)
    shown = "\n".join(sections)
    assert all(f"node-{n:03d}" in shown for n in range(500))
    assert "more line(s)" not in shown  # nothing left out
    assert "500 alert group(s) firing" in json.dumps(blocks[0], ensure_ascii=False)


def test_groups_are_gathered_by_alertname_and_service_newest_change_first() -> None:
    items = [
        item(1, "HighLatency"),
        item(2, "HighLatency"),
        item(3, "DiskFull", "db"),
        item(4, "HighLatency", status="resolved"),
        item(5, "HighLatency", "web"),
    ]
    lines = "\n".join(texts(render_storm(items, threshold=8))).split("\n")
    assert lines == [
        "• *HighLatency* · web · 1 firing: node-005",
        "• *HighLatency* · api · 2 firing, 1 resolved: ~node-004~, node-002, node-001",
        "• *DiskFull* · db · 1 firing: node-003",
    ]


def test_when_the_storm_is_over_the_summary_says_so_and_keeps_its_groups() -> None:
    items = [item(1, "HighLatency"), item(2, "DiskFull", status="resolved")]
    payload = render_storm(items, threshold=8, over=True)
    assert str(payload["text"]).startswith("🌤️ Storm over · 1 of 2")
    shown = "\n".join(texts(payload))
    assert "node-001" in shown and "~node-002~" in shown


def test_past_slacks_limits_the_summary_says_how_much_is_left_out() -> None:
    items = [item(n, f"Alert{n:04d}", "a-rather-long-service-name" * 3) for n in range(3000)]
    payload = render_storm(items, threshold=8)
    blocks = payload["blocks"]
    assert isinstance(blocks, list) and len(blocks) <= MAX_BLOCKS
    assert "more line(s) of alert groups" in texts(payload)[-1]

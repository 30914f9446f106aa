"""Alertmanager notifications for tests, built from the shipped examples."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "alerts"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def notification(
    group_key: str = '{}:{alertname="DiskFull"}',
    *,
    status: str = "firing",
    alerts: int = 1,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    starts_at: str = "2026-01-01T11:50:00Z",
) -> dict[str, Any]:
    base_labels = {"alertname": "DiskFull", "severity": "warning", "service": "api"}
    base_labels.update(labels or {})
    items = []
    for index in range(alerts):
        alert_labels = {**base_labels, "instance": f"node-{index}:9100"}
        items.append(
            {
                "status": status,
                "labels": alert_labels,
                "annotations": {"summary": f"Disk {index} almost full", **(annotations or {})},
                "startsAt": starts_at,
                "endsAt": "2026-01-01T12:30:00Z"
                if status == "resolved"
                else "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": f"fp{index:014d}",
            }
        )
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "chatops",
        "groupLabels": {"alertname": base_labels["alertname"]},
        "commonLabels": base_labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": items,
    }


def resolved(payload: dict[str, Any], ends_at: str = "2026-01-01T12:30:00Z") -> dict[str, Any]:
    out = copy.deepcopy(payload)
    out["status"] = "resolved"
    for alert in out["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = ends_at
    return out

"""The bot's own alert rules and dashboard: valid, wired to real metrics and runbooks."""

from __future__ import annotations

import json
import re
import subprocess
import warnings
from typing import Any

import yaml

from bot.metrics import Metrics
from bot.report.live import OperationalMetrics
from tests.shipping.tools import ROOT, required_tool

MONITORING = ROOT / "monitoring"
RULES = MONITORING / "prometheus-rules.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
PROMTOOL_HOW = "install it with `apt-get install -y prometheus` (Debian ships promtool in it)"

# Metrics other work adds to bot/metrics.py; the rules and the dashboard already use them.
ASSUMED = {
    "chatops_escalation_lag_seconds": "gauge, how late the oldest due escalation step is",
}
# Series every Prometheus has for a scrape target.
PROMETHEUS_OWN = {"up"}


def _exported_names() -> set[str]:
    """What /metrics serves: the service's metrics and the report's live figures, which
    the service registers in the same registry."""
    metrics = Metrics()
    OperationalMetrics(metrics.registry)
    names = set()
    for family in metrics.registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
    return names


def _metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values are not metric names
    return set(re.findall(r"\b(chatops_[a-z_]+|up)\b(?=\s*[{\[)]|\s*$|\s*[<>=!])", expr))


def _rules() -> list[dict[str, Any]]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def test_promtool_accepts_the_rules() -> None:
    promtool = required_tool("promtool", PROMTOOL_HOW)
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_fire_at_their_thresholds_in_promtool_unit_tests() -> None:
    promtool = required_tool("promtool", PROMTOOL_HOW)
    result = subprocess.run(
        [promtool, "test", "rules", "prometheus-rules.test.yml"],
        capture_output=True, text=True, timeout=60, cwd=MONITORING,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_cover_the_bots_failure_modes() -> None:
    names = {rule["alert"] for rule in _rules()}
    assert {
        "ChatOpsDown", "ChatOpsOutboxBacklog", "ChatOpsSlackErrors", "ChatOpsWebhookRejected",
        "ChatOpsWebhookProcessingFailed", "ChatOpsEscalationLag", "ChatOpsNoLeader",
        "ChatOpsPagesPending",
    } <= names  # fmt: skip


def test_every_rule_queries_only_metrics_the_bot_exports() -> None:
    known = _exported_names() | set(ASSUMED) | PROMETHEUS_OWN
    for rule in _rules():
        used = _metric_names(rule["expr"])
        assert used, f"{rule['alert']}: found no metric in {rule['expr']!r}"
        assert used <= known, f"{rule['alert']}: unknown {sorted(used - known)}"


def test_every_alert_has_labels_the_bot_routes_on_and_a_runbook_that_exists() -> None:
    from alerts.runbooks.loader import load_runbooks

    runbooks = load_runbooks(ROOT / "runbooks")
    ids = {runbook.id for runbook in runbooks}
    severity_to_priority = {"critical": "P0", "error": "P1", "warning": "P2", "info": "P3"}
    for rule in _rules():
        labels, annotations = rule["labels"], rule["annotations"]
        assert labels["service"] == "chatops"
        assert severity_to_priority[labels["severity"]] == labels["priority"], rule["alert"]
        runbook = annotations["runbook"]
        assert runbook.startswith("CHATOPS_") and runbook in ids, rule["alert"]
        assert annotations["runbook_url"].endswith(f"/runbooks/{runbook}.md")
        assert annotations["summary"] and annotations["description"]


def test_each_chatops_runbook_names_the_thresholds_of_its_alerts() -> None:
    for rule in _rules():
        body = (ROOT / "runbooks" / f"{rule['annotations']['runbook']}.md").read_text()
        assert rule["alert"] in body, f"{rule['alert']} is not described in its runbook"
        threshold = re.search(r"[<>]=?\s*([0-9.]+)\s*$", rule["expr"].strip())
        if threshold:
            assert threshold.group(0).strip() in body, f"{rule['alert']}: threshold not in runbook"


def test_the_dashboard_is_valid_json_and_queries_only_known_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    known = _exported_names() | set(ASSUMED) | PROMETHEUS_OWN
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    queried: set[str] = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = _metric_names(target["expr"])
            assert used and used <= known, f"{panel['title']}: unknown {sorted(used - known)}"
            queried |= used
    # A metric added to bot/metrics.py but not yet on the dashboard is worth a note, not a
    # red build: the dashboard follows the code, not the other way round.
    exported = {n for n in _exported_names() if not n.endswith(("_sum", "_count"))}
    if exported - queried:
        warnings.warn(f"not on the dashboard yet: {sorted(exported - queried)}", stacklevel=1)

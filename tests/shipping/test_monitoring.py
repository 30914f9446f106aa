"""The bot's own alert rules and dashboard: valid, wired to real metrics and runbooks."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import yaml

from bot.clock import FakeClock
from bot.metrics import Metrics
from bot.report.live import OperationalMetrics
from bot.retention.figures import RetentionFigures
from tests.shipping.tools import ROOT, required_tool

MONITORING = ROOT / "monitoring"
RULES = MONITORING / "prometheus-rules.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
PROMTOOL_HOW = "install it with `apt-get install -y prometheus` (Debian ships promtool in it)"

# Series every Prometheus has for a scrape target.
PROMETHEUS_OWN = {"up"}
# Functions that read a counter's growth; a raw counter only climbs until a restart.
COUNTER_READERS = {"rate", "increase", "irate"}


def exported_kinds() -> dict[str, str]:
    """What /metrics serves, series name to kind: the service's metrics and the report's
    live figures, which the service registers in the same registry. A histogram's `_sum`
    and `_count` are counters; its `_bucket` is a kind of its own."""
    metrics = Metrics()
    OperationalMetrics(metrics.registry)
    RetentionFigures(metrics.registry, FakeClock())
    kinds: dict[str, str] = {}
    for family in metrics.registry.collect():
        if family.type == "counter":
            kinds[f"{family.name}_total"] = "counter"
        elif family.type == "histogram":
            kinds[f"{family.name}_bucket"] = "bucket"
            kinds |= {f"{family.name}_{s}": "counter" for s in ("sum", "count")}
        else:
            kinds[family.name] = family.type
    return kinds


def _exported_names() -> set[str]:
    return set(exported_kinds())


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
    known = _exported_names() | PROMETHEUS_OWN
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


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels() -> list[dict[str, Any]]:
    """The panels that query something (rows only group them)."""
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def test_the_dashboard_is_valid_json_and_queries_only_known_metrics() -> None:
    board = dashboard()
    assert board["uid"] == "chatops-bot", "links and provisioning find the dashboard by uid"
    assert board["title"] and board["schemaVersion"] >= 36
    known = _exported_names() | PROMETHEUS_OWN
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert _metric_names(variable["query"]) <= known, variable["name"]
    for panel in dashboard_panels():
        assert panel["targets"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            used = _metric_names(target["expr"])
            assert used and used <= known, f"{panel['title']}: unknown {sorted(used - known)}"


def test_every_exported_metric_has_a_panel() -> None:
    # On call, a graph is read; /metrics is not. A histogram counts as shown when its
    # buckets are (a quantile); a mean from `_sum` and `_count` hides the slow tail.
    queried = {
        name
        for panel in dashboard_panels()
        for target in panel["targets"]
        for name in _metric_names(target["expr"])
    }
    exported = {n for n in _exported_names() if not n.endswith(("_sum", "_count"))}
    assert exported <= queried, (
        f"not on monitoring/grafana-dashboard.json: {sorted(exported - queried)}; "
        "add a panel for each (rate or increase of a counter, histogram_quantile of a "
        "histogram, the value of a gauge)"
    )


def test_each_panel_reads_its_metrics_as_their_kind_and_says_what_to_do() -> None:
    kinds = exported_kinds()
    # A selector and the function applied to it, label values blanked (they may hold
    # anything, metric-like names included).
    selector = re.compile(r"(?:\b([a-z_]+)\(\s*)?\b(chatops_[a-z_]+)\b(?:\{[^}]*\})?(\[)?")
    for panel in dashboard_panels():
        title = panel["title"]
        assert panel.get("description"), f"{title}: say what it shows and what to do"
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{title}: no unit"
        for target in panel["targets"]:
            expr = re.sub(r'"[^"]*"', '""', target["expr"])
            for function, name, ranged in selector.findall(expr):
                kind = kinds.get(name, "gauge")
                if kind in ("counter", "bucket"):
                    assert function in COUNTER_READERS and ranged, f"{title}: raw counter {name}"
                else:
                    assert function not in COUNTER_READERS, f"{title}: {function}() of gauge {name}"
                if kind == "bucket":
                    assert "histogram_quantile(" in expr, f"{title}: {name} without a quantile"

"""An alert finds its runbook by annotation, by runbook_url, by matchers, or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.policy import DefaultPriorityRules
from alerts.runbooks import (
    RunbookSet,
    find_runbook,
    link_runbook,
    load_runbooks,
    parse_runbook,
    resolve_action,
    runbook_id_from_url,
)
from alerts.runbooks.linking import linking_labels
from bot.runbooks.cli import DEFAULT_DIRECTORY

RULES = DEFAULT_DIRECTORY.parent / "examples" / "prometheus" / "alert-rules.yml"
SHIPPED = load_runbooks(DEFAULT_DIRECTORY)
URL = "https://github.com/example/chatops/blob/main/runbooks/{}.md"


def linked_id(labels: dict[str, str], annotations: dict[str, str] | None = None) -> str | None:
    runbook = find_runbook(labels, annotations or {}, SHIPPED)
    return runbook.id if runbook else None


def test_the_runbook_annotation_wins_over_url_and_labels() -> None:
    labels = {"alertname": "PostgresDown", "priority": "P0"}
    annotations = {"runbook": "SCALING", "runbook_url": URL.format("APPROVAL_TIMEOUTS")}

    link = link_runbook(labels, annotations, SHIPPED)

    assert link.runbook is not None and link.runbook.id == "SCALING"
    assert link.linked_by == "annotation"


def test_runbook_url_names_the_runbook_by_its_last_path_segment() -> None:
    annotations = {"runbook_url": URL.format("SSE_CONNECTION_DROPS")}

    link = link_runbook({"alertname": "Anything"}, annotations, SHIPPED)

    assert link.runbook is not None and link.runbook.id == "SSE_CONNECTION_DROPS"
    assert link.linked_by == "url"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/example/chatops/blob/main/runbooks/SCALING.md", "SCALING"),
        ("https://wiki.example.com/runbooks/SCALING/", "SCALING"),
        ("https://wiki.example.com/runbooks/SCALING.md?plain=1#diagnosis", "SCALING"),
        ("runbooks/incident_response.md", "incident_response"),
        ("https://wiki.example.com/", None),
        ("", None),
    ],
)
def test_the_id_in_a_runbook_url(url: str, expected: str | None) -> None:
    assert runbook_id_from_url(url) == expected


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (
            {"alertname": "PostgresDown", "priority": "P0", "service": "postgresql"},
            "DATABASE_ISSUES",
        ),
        ({"alertname": "CacheHitRatioLow", "priority": "P3"}, "DATABASE_ISSUES"),
        ({"alertname": "APIHighLatency", "service": "api", "priority": "P2"}, "SCALING"),
        ({"alertname": "ApprovalQueueAgeHigh", "service": "api"}, "APPROVAL_TIMEOUTS"),
        # Specific runbooks sort before the broad fallback (upper case before lower case).
        ({"alertname": "APIHighLatency", "service": "api", "priority": "P1"}, "SCALING"),
        ({"alertname": "APIDown", "service": "api", "priority": "P0"}, "incident_response"),
        # applies_to needs every matcher: service="api" does not hold here.
        ({"alertname": "APIHighLatency", "service": "web", "priority": "P2"}, None),
        ({"alertname": "DiskFilling", "priority": "P3"}, None),
    ],
)
def test_without_annotations_the_first_matching_runbook_is_used(
    labels: dict[str, str], expected: str | None
) -> None:
    assert linked_id(labels) == expected


def test_a_dangling_annotation_falls_through_and_is_reported() -> None:
    annotations = {
        "runbook": "SCALNG",
        "runbook_url": "https://wiki.example.com/display/OPS/Latency",
    }

    link = link_runbook({"alertname": "PostgresDown"}, annotations, SHIPPED)

    assert link.runbook is not None and link.runbook.id == "DATABASE_ISSUES"
    assert link.linked_by == "labels"
    assert link.dangling == ("SCALNG", "Latency")


def test_no_runbook_covers_an_unknown_alert() -> None:
    link = link_runbook({"alertname": "DiskFilling"}, {"runbook": "nope"}, SHIPPED)

    assert link.runbook is None and link.linked_by is None


def _runbook(tmp_path: Path, runbook_id: str, applies_to: str) -> Any:
    steps = "".join(f"  - id: s{i}\n    title: Step {i}\n    detail: Do it.\n" for i in range(3))
    text = f"---\nid: {runbook_id}\ntitle: T\n{applies_to}steps:\n{steps}---\n"
    return parse_runbook(text, tmp_path / f"{runbook_id}.md")


def test_a_runbook_without_applies_to_is_reached_only_through_annotations(tmp_path: Path) -> None:
    manual = _runbook(tmp_path, "manual", "")
    runbooks = RunbookSet([manual])

    assert find_runbook({"alertname": "Anything"}, {}, runbooks) is None
    assert find_runbook({"alertname": "Anything"}, {"runbook": "manual"}, runbooks) is manual


def test_candidates_are_tried_in_byte_order_of_file_name(tmp_path: Path) -> None:
    broad = 'applies_to:\n  - severity=~".+"\n'
    lower = _runbook(tmp_path, "alpha", broad)
    upper = _runbook(tmp_path, "Zulu", broad)
    under = _runbook(tmp_path, "_mid", broad)

    runbooks = RunbookSet([lower, under, upper])

    # "Z" (0x5A) < "_" (0x5F) < "a" (0x61): not alphabetical, not case-insensitive.
    assert runbooks.ids == ["Zulu", "_mid", "alpha"]
    assert find_runbook({"severity": "warning"}, {}, runbooks) is upper


def _example_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"] if "alert" in rule]


def _labels_of(rule: dict[str, Any]) -> dict[str, str]:
    # Prometheus fills `deployment` from the series; any colour stands in for it here.
    labels = {name: str(value) for name, value in rule["labels"].items()}
    if "deployment" in labels:
        labels["deployment"] = "api-blue"
    return {"alertname": rule["alert"], **labels}


@pytest.mark.parametrize("rule", _example_rules(), ids=lambda rule: rule["alert"])
def test_every_example_rule_reaches_a_runbook_whose_parameters_it_can_fill(
    rule: dict[str, Any],
) -> None:
    labels = _labels_of(rule)
    annotations = {name: str(value) for name, value in rule["annotations"].items()}

    link = link_runbook(labels, annotations, SHIPPED)
    by_labels_only = find_runbook(labels, {}, SHIPPED)

    assert link.runbook is not None and link.linked_by == "annotation"
    assert runbook_id_from_url(annotations["runbook_url"]) == link.runbook.id
    for runbook in filter(None, (link.runbook, by_labels_only)):
        for step in runbook.steps:
            if step.action is not None:
                resolve_action(step.action.type, step.action.params, labels, annotations)


def test_the_p0_p1_fallback_follows_the_priority_derived_from_severity() -> None:
    # P1 only through the severity map: the README's fallback for any P0/P1 alert.
    assert linked_id({"alertname": "QueueStuck", "severity": "error"}) == "incident_response"
    assert linked_id({"alertname": "QueueStuck", "severity": "critical"}) == "incident_response"
    assert linked_id({"alertname": "QueueStuck", "severity": "warning"}) is None
    # A priority label wins over the severity, as it does for routing and paging.
    assert linked_id({"alertname": "QueueStuck", "severity": "critical", "priority": "P3"}) is None


def test_linking_derives_the_priority_with_the_configs_rules() -> None:
    rules = DefaultPriorityRules(
        priority_label="urgency", severity_label="level", severity_map={"sev2": "P1"}
    )
    labels = {"alertname": "QueueStuck", "level": "sev2"}

    assert find_runbook(labels, {}, SHIPPED) is None
    found = find_runbook(labels, {}, SHIPPED, rules)
    assert found is not None and found.id == "incident_response"
    assert linking_labels({"urgency": "p0", "level": "x"}, rules) == {
        "urgency": "p0",
        "level": "x",
        "priority": "P0",
        "severity": "x",
    }


def test_applies_to_on_severity_sees_the_configured_severity_label(tmp_path: Path) -> None:
    by_severity = _runbook(tmp_path, "LOUD", 'applies_to:\n  - severity="critical"\n')
    runbooks = RunbookSet([by_severity])
    rules = DefaultPriorityRules(severity_label="level")

    assert find_runbook({"level": "critical"}, {}, runbooks, rules) is by_severity
    assert find_runbook({"level": "warning"}, {}, runbooks, rules) is None

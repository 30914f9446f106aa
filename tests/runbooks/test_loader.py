"""Loading runbook documents: the shipped ones load, broken ones name file, line and problem."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from alerts.runbooks import RunbookError, load_runbooks, parse_runbook
from alerts.runbooks.specs import BUILTIN_SPECS, StepSpecs
from bot.runbooks.cli import DEFAULT_DIRECTORY

BROKEN = Path(__file__).parent / "broken"
SHIPPED_IDS = [
    "APPROVAL_TIMEOUTS",
    # The bot's own runbooks (monitoring/prometheus-rules.yml links them).
    "CHATOPS_BOT_DOWN",
    "CHATOPS_ESCALATION_LAG",
    "CHATOPS_LEADER",
    "CHATOPS_OUTBOX_BACKLOG",
    "CHATOPS_PAGES_PENDING",
    "CHATOPS_SLACK_ERRORS",
    "CHATOPS_WEBHOOK_FAILURES",
    "DATABASE_ISSUES",
    "SCALING",
    "SSE_CONNECTION_DROPS",
    "incident_response",
]

VALID = """---
id: {id}
title: A small runbook
applies_to:
  - alertname="Small"
steps:
  - id: check-pods
    title: Check the pods
    detail: >
      Pending pods mean the cluster is full.
    action:
      type: k8s.pods
      params: {{namespace: "{{{{ labels.namespace }}}}", workload: api-blue}}
  - id: read-logs
    title: Read the logs
    detail: Errors mean the fan-out is broken.
  - id: verify
    title: Verify
    detail: Latency is back under 2 s.
---
# A small runbook

Body text for people.
"""


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(RunbookError) as caught:
        load_runbooks(directory)
    return caught.value.problems


def test_the_shipped_runbooks_load_in_file_name_byte_order() -> None:
    runbooks = load_runbooks(DEFAULT_DIRECTORY)

    # Upper-case names sort first, so the broad incident_response comes last.
    assert runbooks.ids == SHIPPED_IDS
    for runbook in runbooks:
        assert runbook.path.name == f"{runbook.id}.md"
        assert 3 <= len(runbook.steps) <= 10
        assert re.fullmatch(r"[0-9a-f]{12}", runbook.version)
        assert runbook.body.startswith("# ")
    assert runbooks["SCALING"].step("scale-out") is not None
    assert runbooks.get("README") is None


def test_readme_is_skipped_even_without_front_matter() -> None:
    problems = problems_of(BROKEN / "schema")
    assert not any("README.md" in problem for problem in problems)


BROKEN_CASES = {
    "bad_yaml": [
        (
            "bad_yaml.md",
            8,
            "front matter is not valid YAML: expected ',' or ']', but got ':' "
            "(while parsing a flow sequence started on line 7)",
        ),
    ],
    "unknown_key": [("unknown_key.md", 8, "steps.0.actoin: unknown key")],
    "unknown_action": [
        (
            "unknown_action.md",
            9,
            "steps.0.action.type: unknown action type 'k8s.delete' (known: alertmanager.silence, "
            "http.check, k8s.logs, k8s.pods, k8s.restart, k8s.scale)",
        ),
    ],
    "bad_params": [
        (
            "bad_params.md",
            13,
            "steps.0.action.params.replicas: Input should be greater than or equal to 0",
        ),
        (
            "bad_params.md",
            19,
            "steps.1.action.params.lines: Input should be less than or equal to 1000",
        ),
        (
            "bad_params.md",
            26,
            "steps.2.action.params.url: 'ftp://sam.sergas.example/health' is not an http:// "
            "or https:// URL with a host",
        ),
        ("bad_params.md", 27, "steps.2.action.params.retries: unknown parameter"),
        (
            "bad_params.md",
            33,
            "steps.3.action.params.duration: 30d is longer than the 7d a silence may last",
        ),
        ("bad_params.md", 39, "steps.4.action.params.deployment: required parameter is missing"),
        ("bad_params.md", 39, "steps.4.action.params.deployment_name: unknown parameter"),
        (
            "bad_params.md",
            45,
            "steps.5.action.params.replicas: templates are only allowed in text parameters; "
            "this one takes a literal value",
        ),
    ],
    "duplicate_id": [
        ("first.md", 2, "id: id 'shared' must equal the file name without .md ('first')"),
        ("second.md", 2, "id: id 'shared' must equal the file name without .md ('second')"),
        (
            "second.md",
            2,
            f"id: runbook id 'shared' is already used by {BROKEN}/duplicate_id/first.md",
        ),
    ],
    "duplicate_step": [
        ("duplicate_step.md", 11, "steps.2.id: duplicate step id 'check-pods' (first on line 5)"),
    ],
    "wrong_id": [
        ("wrong_id.md", 2, "id: id 'SCALING' must equal the file name without .md ('wrong_id')"),
    ],
    "malformed_template": [
        (
            "malformed_template.md",
            10,
            "steps.0.action.params.namespace: malformed template in '{{ labels.namespace }': "
            "every '{{' needs a closing '}}'",
        ),
    ],
    "unknown_namespace": [
        (
            "unknown_namespace.md",
            11,
            "steps.0.action.params.namespace: template {{ label.namespace }} refers to 'label', "
            "which is never filled in: only {{ labels.NAME }} and {{ annotations.NAME }} are",
        ),
        (
            "unknown_namespace.md",
            12,
            "steps.0.action.params.workload: template {{ labels.deployment | default('api') }} "
            "is never filled in: only {{ labels.NAME }} and {{ annotations.NAME }} are "
            "(no filters, no expressions)",
        ),
        (
            "unknown_namespace.md",
            18,
            "steps.1.action.params.url: template {{ alert.instance }} refers to 'alert', "
            "which is never filled in: only {{ labels.NAME }} and {{ annotations.NAME }} are",
        ),
    ],
    "schema": [
        (
            "schema.md",
            6,
            'applies_to.1: service=api is not a label matcher; write name="value" with one of '
            '=, !=, =~, !~ and the value in double quotes (service="api")',
        ),
        (
            "schema.md",
            7,
            'applies_to.2: instance=~"db-(\\d+": invalid regular expression '
            "(missing ), unterminated subpattern)",
        ),
        ("schema.md", 8, "steps: has 2 steps; a runbook needs 3 to 10"),
        (
            "schema.md",
            9,
            "steps.0.id: 'Check_Pods' is not a step id: use up to 64 of a-z 0-9 and '-' "
            "(like check-pods)",
        ),
        ("schema.md", 10, "steps.0.title: is 91 characters long; at most 80 are allowed"),
        ("schema.md", 12, "steps.0.requires_approval: Input should be a valid boolean"),
        ("schema.md", 16, "steps.1.detail: duplicate key"),
    ],
    "no_front_matter": [
        (
            "no_front_matter.md",
            1,
            "a runbook must open with YAML front matter between two '---' lines",
        ),
    ],
}


@pytest.mark.parametrize("case", sorted(BROKEN_CASES))
def test_a_broken_runbook_is_reported_with_file_line_and_message(case: str) -> None:
    directory = BROKEN / case
    expected = [
        f"{directory / name}:{line}: {message}" for name, line, message in BROKEN_CASES[case]
    ]

    assert problems_of(directory) == expected


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    for case in ("unknown_key", "bad_params", "wrong_id"):
        for path in (BROKEN / case).glob("*.md"):
            shutil.copy(path, tmp_path / path.name)

    problems = problems_of(tmp_path)

    assert len(problems) == 1 + 8 + 1
    assert problems[0].startswith(f"{tmp_path}/bad_params.md:13: ")


def test_a_valid_runbook_parses_into_the_model(tmp_path: Path) -> None:
    path = tmp_path / "small.md"
    runbook = parse_runbook(VALID.format(id="small"), path)

    assert runbook.id == "small"
    assert [str(m) for m in runbook.applies_to] == ['alertname="Small"']
    assert [step.id for step in runbook.steps] == ["check-pods", "read-logs", "verify"]
    first = runbook.steps[0]
    assert first.detail == "Pending pods mean the cluster is full."  # folded, stripped
    assert first.action is not None and first.action.type == "k8s.pods"
    assert first.action.params == {"namespace": "{{ labels.namespace }}", "workload": "api-blue"}
    assert first.requires_approval is False
    assert runbook.body == "# A small runbook\n\nBody text for people.\n"


def test_the_version_follows_the_steps_not_the_prose(tmp_path: Path) -> None:
    text = VALID.format(id="small")
    original = parse_runbook(text, tmp_path / "small.md").version

    prose = parse_runbook(text.replace("Body text", "Better body text"), tmp_path / "small.md")
    step = parse_runbook(
        text.replace("title: Verify", "title: Verify again"), tmp_path / "small.md"
    )

    assert prose.version == original
    assert step.version != original


def test_windows_line_endings_and_a_byte_order_mark_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "small.md"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.format(id="small").replace("\n", "\r\n").encode())

    assert load_runbooks(tmp_path).ids == ["small"]


def test_text_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "latin.md").write_bytes(
        VALID.format(id="latin").replace("A small", "Ä").encode("latin-1")
    )

    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / 'latin.md'}:1: not UTF-8 text")


def test_front_matter_that_is_not_a_mapping_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "list.md").write_text("---\n- id: list\n---\n# body\n")
    (tmp_path / "empty.md").write_text("---\n---\n# body\n")

    assert problems_of(tmp_path) == [
        f"{tmp_path / 'empty.md'}:2: the front matter must be a mapping (id, title, steps)",
        f"{tmp_path / 'list.md'}:2: the front matter must be a mapping (id, title, steps)",
    ]


def test_missing_required_keys_are_named(tmp_path: Path) -> None:
    (tmp_path / "bare.md").write_text("---\nid: bare\n---\n")

    assert problems_of(tmp_path) == [
        f"{tmp_path / 'bare.md'}:2: title: required key is missing",
        f"{tmp_path / 'bare.md'}:2: steps: required key is missing",
    ]


def test_action_types_come_from_the_registry_given(tmp_path: Path) -> None:
    only_http = StepSpecs(spec for spec in BUILTIN_SPECS if spec.type == "http.check")
    (tmp_path / "small.md").write_text(VALID.format(id="small"))

    with pytest.raises(RunbookError) as caught:
        load_runbooks(tmp_path, registry=only_http)

    assert caught.value.problems == [
        f"{tmp_path / 'small.md'}:12: steps.0.action.type: unknown action type 'k8s.pods' "
        "(known: http.check)"
    ]


def test_only_parameters_a_spec_declares_may_come_from_alert_data(tmp_path: Path) -> None:
    from dataclasses import replace

    # The same k8s.pods, except that it does not declare `namespace` as one alert data
    # may fill: the template in VALID is then refused where it is written.
    pods = next(spec for spec in BUILTIN_SPECS if spec.type == "k8s.pods")
    closed = StepSpecs([replace(pods, alert_params=("workload",))])
    (tmp_path / "small.md").write_text(VALID.format(id="small"))
    load_runbooks(tmp_path, registry=StepSpecs([pods]))

    with pytest.raises(RunbookError) as caught:
        load_runbooks(tmp_path, registry=closed)

    assert caught.value.problems == [
        f"{tmp_path / 'small.md'}:13: steps.0.action.params.namespace: k8s.pods does not take "
        "this parameter from alert data; write it literally"
    ]

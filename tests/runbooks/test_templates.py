"""Step parameters filled from the alert: only labels.X / annotations.X, always validated."""

from __future__ import annotations

import re

import pytest

from alerts.runbooks.specs import SPECS, K8sScaleParams
from alerts.runbooks.templates import (
    TemplateError,
    fill,
    references,
    resolve,
    resolve_action,
    template_problems,
)

LABELS = {"namespace": "sergas", "deployment": "api-blue", "instance": "sam.sergas.example"}
ANNOTATIONS = {"summary": "p95 over 2s", "dashboard": "https://grafana.example/d/api"}
PODS = SPECS.spec("k8s.pods")
POD_PARAMS = {"namespace": "{{ labels.namespace }}", "workload": "{{ labels.deployment }}"}


@pytest.mark.parametrize(
    "text",
    ["{{ labels.namespace }}", "{{labels.namespace}}", "{{   labels.namespace\t}}"],
)
def test_whitespace_inside_the_braces_does_not_matter(text: str) -> None:
    assert fill(text, LABELS, ANNOTATIONS) == "sergas"


def test_labels_and_annotations_fill_in_place() -> None:
    text = (
        "{{ annotations.dashboard }}?var-ns={{ labels.namespace }}&deploy={{ labels.deployment }}"
    )

    assert fill(text, LABELS, ANNOTATIONS) == (
        "https://grafana.example/d/api?var-ns=sergas&deploy=api-blue"
    )
    assert [str(ref) for ref in references(text)] == [
        "{{ annotations.dashboard }}",
        "{{ labels.namespace }}",
        "{{ labels.deployment }}",
    ]


def test_resolved_parameters_pass_the_action_schema() -> None:
    assert resolve(POD_PARAMS, LABELS, ANNOTATIONS, spec=PODS) == {
        "namespace": "sergas",
        "workload": "api-blue",
    }


def test_literal_parameters_pass_through_untouched() -> None:
    params = {"namespace": "sergas", "deployment": "{{ labels.deployment }}", "replicas": 12}

    model = resolve_action("k8s.scale", params, LABELS, ANNOTATIONS)

    assert model == K8sScaleParams(namespace="sergas", deployment="api-blue", replicas=12)


@pytest.mark.parametrize(
    ("deployment", "reason"),
    [
        ("; rm -rf /", "workload: '; rm -rf /' is not a valid Kubernetes name"),
        ("../", "workload: '../' is not a valid Kubernetes name"),
        ("../../etc/passwd", "workload: '../../etc/passwd' is not a valid Kubernetes name"),
        ("api blue", "workload: 'api blue' is not a valid Kubernetes name"),
        ("api-blue$(reboot)", "is not a valid Kubernetes name"),
        ("API-BLUE", "is not a valid Kubernetes name"),
        ("", "workload: the alert's label 'deployment' is empty"),
        ("   ", "workload: the alert's label 'deployment' is empty"),
    ],
)
def test_a_malicious_or_empty_value_is_refused(deployment: str, reason: str) -> None:
    labels = {**LABELS, "deployment": deployment}

    with pytest.raises(TemplateError, match=re.escape(reason)):
        resolve(POD_PARAMS, labels, ANNOTATIONS, spec=PODS)


def test_a_missing_label_is_refused_not_filled_with_nothing() -> None:
    labels = {"namespace": "sergas"}

    with pytest.raises(TemplateError, match="workload: the alert has no label 'deployment'"):
        resolve(POD_PARAMS, labels, ANNOTATIONS, spec=PODS)


def test_a_missing_annotation_is_named_as_an_annotation() -> None:
    with pytest.raises(TemplateError, match="url: the alert has no annotation 'runbook_host'"):
        resolve({"url": "https://{{ annotations.runbook_host }}/"}, LABELS, ANNOTATIONS)


def test_a_value_is_never_evaluated_again() -> None:
    # A label that looks like a template stays text, and then fails the schema.
    labels = {**LABELS, "deployment": "{{ labels.namespace }}"}

    assert fill("{{ labels.deployment }}", labels, {}) == "{{ labels.namespace }}"
    with pytest.raises(TemplateError, match="is not a valid Kubernetes name"):
        resolve(POD_PARAMS, labels, ANNOTATIONS, spec=PODS)


def test_a_url_filled_from_a_label_is_checked_as_a_url() -> None:
    params = {"url": "https://{{ labels.instance }}/health"}
    spec = SPECS.spec("http.check")

    assert resolve(params, LABELS, {}, spec=spec) == {"url": "https://sam.sergas.example/health"}
    for instance in ("user:secret@evil.example", "evil example"):
        with pytest.raises(TemplateError, match="url: "):
            resolve(params, {**LABELS, "instance": instance}, {}, spec=spec)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{{ alert.name }}", "refers to 'alert', which is never filled in"),
        ("{{ label.namespace }}", "refers to 'label', which is never filled in"),
        ("{{ $labels.namespace }}", "is never filled in"),
        ("{{ labels.namespace | upper }}", "is never filled in"),
        ("{{ labels }}", "is never filled in"),
        ("{{ labels.a.b }}", "is never filled in"),
        ("{{ labels.namespace }", "malformed template"),
        ("{{ labels.namespace", "malformed template"),
        ("labels.namespace }}", "malformed template"),
        ("{{ {{ labels.namespace }} }}", "malformed template"),
    ],
)
def test_templates_that_can_never_be_filled_are_reported(text: str, problem: str) -> None:
    [found] = template_problems(text)
    assert problem in found
    with pytest.raises(TemplateError):
        fill(text, LABELS, ANNOTATIONS)


def test_plain_text_has_no_template_problems() -> None:
    assert template_problems("api-blue") == []
    assert template_problems("{{ labels.a }}-{{ annotations.b }}") == []

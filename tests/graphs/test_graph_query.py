"""Reading an alert's expression and threshold from Prometheus's generatorURL."""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest
import yaml

from alerts.graph_query import GraphQuery, expression_from, graph_query
from tests.e2e.test_cli_and_sandbox import ROOT


def link(expr: str) -> str:
    return f"http://prometheus:9090/graph?g0.expr={quote_plus(expr)}&g0.tab=1"


def test_the_expression_comes_from_g0_expr_and_nothing_else() -> None:
    assert expression_from(link('up{job="api"} == 0')) == 'up{job="api"} == 0'
    assert expression_from("http://prometheus:9090/graph") is None
    assert expression_from("") is None
    assert expression_from("javascript:alert(1)?g0.expr=up") is None
    # Grafana's generatorURL points at its own alert view: no expression, no graph.
    assert expression_from("https://grafana.example/alerting/grafana/abc/view") is None


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("rate(errors_total[5m]) > 0.05", GraphQuery("rate(errors_total[5m])", 0.05, ">")),
        ('up{job="api"} == 0', GraphQuery('up{job="api"}', 0.0, "==")),
        ("x > bool 2", GraphQuery("x", 2.0, ">")),
        ("0.5 < x", GraphQuery("x", 0.5, ">")),
        ("age_seconds > 18 * 3600", GraphQuery("age_seconds", 64800.0, ">")),
        # Comparisons inside parentheses, matchers or strings are not the alert's threshold.
        ('sum(x{a!="b"} > 1) by (job)', GraphQuery('sum(x{a!="b"} > 1) by (job)')),
        ('x{le=">5"}', GraphQuery('x{le=">5"}')),
        # Two series compared, or a comparison inside a set operation: graph it whole.
        ("a > on(job) b", GraphQuery("a > on(job) b")),
        ("a > 1 and b", GraphQuery("a > 1 and b")),
        ("rate(x[5m])", GraphQuery("rate(x[5m])")),
    ],
)
def test_the_threshold_is_the_top_level_comparison_with_a_number(
    expr: str, expected: GraphQuery
) -> None:
    assert graph_query(expr) == expected


def test_every_shipped_rule_has_a_graphable_expression() -> None:
    rules = yaml.safe_load((ROOT / "examples/prometheus/alert-rules.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert exprs
    with_threshold = [e for e in exprs if graph_query(e.strip()).threshold is not None]
    assert len(with_threshold) >= len(exprs) // 2, "most alerts compare with a number"
    for expr in exprs:
        assert expression_from(link(expr.strip())) == expr.strip()

"""Which alert expressions a graph may ask Prometheus for."""

from __future__ import annotations

import pytest

from alerts.graph_query import limited, plan_graph
from alerts.promql_selectors import SelectorRefused, check_selectors


@pytest.mark.parametrize(
    "expr",
    [
        "up",
        'rate(http_requests_total{job=~".+"}[5m]) > 0.05',
        "sum by (job) (rate(errors_total[5m])) / sum by (job) (rate(requests_total[5m]))",
        '{__name__="up", job="api"}',
        'label_replace(up, "a", "$1", "b", "(.*)")',
        'a{b="}{"} + c offset 5m',
        "vector(1)",
        'up # {job="x"} in a comment',
        "rate(x[5m:1m])",
    ],
)
def test_expressions_that_name_their_metrics_are_graphed(expr: str) -> None:
    check_selectors(expr)


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ('{__name__=~"rt_.+"}', "regex"),
        ('sum(rate({__name__!~"a"}[5m]))', "regex"),
        ('foo{__name__=~"b"}', "regex"),
        ('{job="api"}', "no metric name"),
        ('sum without (instance) ({job="x"})', "no metric name"),
        ('by{a="b"}', "no metric name"),
        ('{"metric.name"}', "quotes"),
        ('x{a="1"', "not closed"),
        ("x{a=1}", "cannot be read"),
    ],
)
def test_expressions_that_reach_beyond_their_metrics_are_refused(expr: str, why: str) -> None:
    with pytest.raises(SelectorRefused, match=why):
        check_selectors(expr)


def test_a_refused_expression_is_planned_with_its_reason() -> None:
    url = "http://prometheus:9090/graph?g0.expr=%7B__name__%3D~%22rt_.%2B%22%7D"
    plan = plan_graph([url], route_url=None, default_url="http://prometheus:9090")
    assert plan.queries == () and plan.reason is not None and "regex" in plan.reason


def test_the_series_limit_survives_a_trailing_comment() -> None:
    assert limited("up # a comment", 10) == "topk(10, (\nup # a comment\n))"

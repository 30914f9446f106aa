"""Label matchers mean what they mean in Alertmanager: anchored regexes, missing = empty."""

from __future__ import annotations

import pytest

from alerts.runbooks.matchers import MatcherError, matches_all, parse_matcher


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ('service="api"', {"service": "api"}, True),
        ('service="api"', {"service": "api-gateway"}, False),
        ('service!="api"', {"service": "redis"}, True),
        ('service!="api"', {"service": "api"}, False),
        # Fully anchored, as Alertmanager anchors them.
        ('alertname=~"Postgres.*"', {"alertname": "PostgresDown"}, True),
        ('alertname=~"Postgres"', {"alertname": "PostgresDown"}, False),
        ('alertname=~"Down"', {"alertname": "PostgresDown"}, False),
        # The anchors wrap the whole alternation, not just its ends.
        ('priority=~"P0|P1"', {"priority": "P1"}, True),
        ('priority=~"P0|P1"', {"priority": "P0x"}, False),
        ('priority=~"P0|P1"', {"priority": "xP1"}, False),
        ('priority=~"P0|P1"', {"priority": "P10"}, False),
        ('priority!~"P0|P1"', {"priority": "P2"}, True),
        ('priority!~"P0|P1"', {"priority": "P1"}, False),
        ('priority!~"P0|P1"', {"priority": "P10"}, True),
        # A missing label is the empty string.
        ('team!="payments"', {}, True),
        ('team=""', {}, True),
        ('team=~".*"', {}, True),
        ('team=~".+"', {}, False),
        ('team!~".+"', {}, True),
        # A regex class keeps its backslash; \" is a quote.
        ('instance=~"db-\\d+"', {"instance": "db-12"}, True),
        ('instance=~"db-\\d+"', {"instance": "db-x"}, False),
        ('summary="say \\"hi\\""', {"summary": 'say "hi"'}, True),
        ('path="C:\\\\temp"', {"path": "C:\\temp"}, True),
        # Newlines do not sneak past an anchored regex.
        ('alertname=~"Postgres.*"', {"alertname": "PostgresDown\nOther"}, False),
        ('  service = "api"  ', {"service": "api"}, True),
    ],
)
def test_a_matcher_matches_as_in_alertmanager(
    matcher: str, labels: dict[str, str], expected: bool
) -> None:
    assert parse_matcher(matcher).matches(labels) is expected


def test_all_matchers_must_hold() -> None:
    matchers = [parse_matcher('alertname=~"API.*"'), parse_matcher('service="api"')]

    assert matches_all(matchers, {"alertname": "APIHighLatency", "service": "api"})
    assert not matches_all(matchers, {"alertname": "APIHighLatency", "service": "redis"})
    assert matches_all([], {})


@pytest.mark.parametrize(
    "text", ['service="api"', 'alertname=~"Postgres.*|Redis.*"', 'a!~"x\\"y"', 'b!="line\\nbreak"']
)
def test_a_matcher_prints_as_it_parses(text: str) -> None:
    matcher = parse_matcher(text)

    assert str(matcher) == text
    assert parse_matcher(str(matcher)) == matcher


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("service=api", "is not a label matcher"),
        ("service='api'", "is not a label matcher"),
        ('service=="api"', "is not a label matcher"),
        ('1service="api"', "is not a label matcher"),
        ('service="api" extra', "is not a label matcher"),
        ('service="api', "is not a label matcher"),
        ('alertname=~"Postgres(.*"', "invalid regular expression"),
    ],
)
def test_what_is_not_a_matcher_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(MatcherError, match=reason):
        parse_matcher(text)


def test_the_operator_is_exposed_like_alertmanager_flags() -> None:
    matcher = parse_matcher('team!~"a|b"')

    assert (matcher.name, matcher.op, matcher.value) == ("team", "!~", "a|b")
    assert matcher.is_regex and not matcher.is_equal

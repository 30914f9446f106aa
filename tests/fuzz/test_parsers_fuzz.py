"""Property-based tests: whatever arrives, parsers answer with a clear refusal or a model,
never an unexpected exception (which the HTTP layer would turn into a 500)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.alertmanager import AlertmanagerNotification, PayloadError, parse_notification
from alerts.pagerduty import parse_webhook
from bot.slack.clicks import parse_group_id
from tests.support.payloads import notification

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=512))
def test_alertmanager_parser_never_crashes_on_bytes(body: bytes) -> None:
    try:
        parse_notification(body)
    except PayloadError:
        pass


@FUZZ
@given(json_values)
def test_alertmanager_parser_never_crashes_on_any_json(value: Any) -> None:
    try:
        parse_notification(json.dumps(value))
    except PayloadError:
        pass


@FUZZ
@given(
    st.sampled_from(["groupKey", "status", "alerts", "version", "commonLabels", "truncatedAlerts"]),
    json_values,
)
def test_alertmanager_parser_with_one_field_replaced(field: str, value: Any) -> None:
    payload = notification()
    payload[field] = value
    try:
        parsed = parse_notification(payload)
    except PayloadError as exc:
        assert str(exc)  # a refusal always says what was wrong
    else:
        assert isinstance(parsed, AlertmanagerNotification)


@FUZZ
@given(
    st.sampled_from(["labels", "annotations", "startsAt", "endsAt", "status", "fingerprint"]),
    json_values,
)
def test_alertmanager_parser_with_one_alert_field_replaced(field: str, value: Any) -> None:
    payload = notification()
    payload["alerts"][0][field] = value
    try:
        parse_notification(payload)
    except PayloadError as exc:
        assert str(exc).startswith(("alerts", "body"))


@FUZZ
@given(st.binary(max_size=512) | json_values.map(lambda v: json.dumps(v).encode()))
def test_pagerduty_webhook_parser_refuses_cleanly(body: bytes) -> None:
    try:
        parse_webhook(body)
    except ValueError as exc:
        assert str(exc)


@FUZZ
@given(st.text(max_size=40))
def test_button_values_are_ints_or_refused(value: str) -> None:
    parsed = parse_group_id(value)
    if parsed is not None:
        assert value.isascii() and value.isdigit() and parsed == int(value)


@FUZZ
@given(st.sampled_from(["/deploy", "/shift", "/rollback"]), st.text(max_size=300))
def test_slash_command_text_parses_or_is_refused_with_usage(command: str, text: str) -> None:
    from bot.config import BUNDLED_EXAMPLE, load_config
    from commands.parsing import CommandContext, UsageError
    from commands.registry import Help, default_registry

    config = load_config(BUNDLED_EXAMPLE).deploy
    context = CommandContext(user="U0000DEP01", channel="C0000DEPLY", config=config)
    try:
        result = default_registry().parse(command, text, context)
    except UsageError as exc:
        assert "Usage" in exc.message
    else:
        assert isinstance(result, Help) or result.target.service in config.services

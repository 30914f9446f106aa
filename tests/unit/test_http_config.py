"""`http.max_body`: bytes, or a size with a unit; nonsense is named by key and line."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, parse_config

BASE = "alerts:\n  routes:\n    - channel: C0000ALERT\n"


@pytest.mark.parametrize(
    ("written", "size"),
    [
        (None, 32 * 1024 * 1024),
        ("64MiB", 64 * 1024 * 1024),
        ("100MB", 100_000_000),
        (524288, 524288),
    ],
)
def test_max_body_takes_bytes_or_a_unit(written: object, size: int) -> None:
    text = BASE if written is None else BASE + f"http:\n  max_body: {written}\n"
    assert parse_config(text).http.max_body == size


@pytest.mark.parametrize("written", ["lots", "12 parsecs", "1KiB", "2GB"])
def test_a_wrong_max_body_is_named(written: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(BASE + f"http:\n  max_body: {written}\n")
    [problem] = raised.value.problems
    assert problem.startswith("line 5: http.max_body:")

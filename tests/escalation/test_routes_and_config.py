"""`chatops routes test` and the escalation parts of `check-config`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import BUNDLED_EXAMPLE


def test_routes_test_prints_priority_channel_route_and_timeline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["routes", "test", "--config", str(BUNDLED_EXAMPLE), "severity=error", "team=payments"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "priority:  P1" in out and "channel:   C0000PAYMT" in out
    assert "route:     #0 team=payments" in out
    assert "5m  page PagerDuty" in out and "15m  re-notify" in out


def test_routes_test_refuses_bad_label_syntax_with_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["routes", "test", "--config", str(BUNDLED_EXAMPLE), "severity"])
    assert code == 2
    assert "'severity' is not a label" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("escalation", "named"),
    [
        ("P7: {page_after: 5m}", "alerts.escalation.P7"),
        ("P1: {page_after: -5m}", "alerts.escalation.P1.page_after"),
        ("P0: {renotify_every: 10s}", "alerts.escalation.P0.renotify_every"),
    ],
)
def test_check_config_names_bad_escalation_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], escalation: str, named: str
) -> None:
    path = tmp_path / "chatops.yaml"
    path.write_text(
        "alerts:\n  routes:\n    - channel: C0000ALERT\n  escalation:\n    " + escalation + "\n"
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["check-config", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert named in err and "line 5" in err

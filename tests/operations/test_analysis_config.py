"""`chatops check-config` and bake analysis: queries that do not parse, placeholders,
and analysis configured without PROMETHEUS_URL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, parse_config
from tests.support.services import missing

CONFIG = """\
alerts:
  routes:
    - channel: C0000ALERT
deploy:
  services:
    api:
      channel: C0000DEPLY
      environments:
        production:
          bake: 5m
          analysis:
            interval: 1m
            checks:
              - name: error-ratio
                max: 0.005
                query: {query}
"""


def write(tmp_path: Path, query: str) -> Path:
    path = tmp_path / "chatops.yaml"
    path.write_text(CONFIG.format(query=query))
    return path


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(["check-config", str(path)])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def require_promtool() -> None:
    if shutil.which("promtool") is None:
        missing("promtool", "install Debian's prometheus package: `apt-get install -y prometheus`")


def test_a_query_that_does_not_parse_is_refused_with_its_key_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require_promtool()
    monkeypatch.setenv("PROMETHEUS_URL", "http://127.0.0.1:9")
    path = write(tmp_path, "'sum(rate(http_requests_total{service=\"{{ service }}\"}[1m])'")
    code, out, err = check(path, capsys)
    assert code == 2, (out, err)
    assert "OK" not in out
    key = "deploy.services.api.environments.production.analysis.checks.0.query"
    assert f"line 16: {key}: PromQL does not parse" in err
    assert "unclosed left parenthesis" in err


def test_a_query_that_parses_passes_and_the_seed_checks_are_valid_promql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require_promtool()
    monkeypatch.setenv("PROMETHEUS_URL", "http://127.0.0.1:9")
    path = write(
        tmp_path, "'sum(rate(http_requests_total{colour=\"{{ colour }}\"}[{{ window }}]))'"
    )
    code, out, err = check(path, capsys)
    assert code == 0 and "OK" in out, err
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        CONFIG.split("            interval")[0].replace(
            "          analysis:", "          analysis: {}"
        )
    )
    code, out, err = check(seed, capsys)
    assert code == 0 and "OK" in out, err


def test_analysis_without_prometheus_url_is_a_clear_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    path = write(tmp_path, "'up'")
    code, out, err = check(path, capsys)
    assert code == 0 and "OK" in out
    assert "PROMETHEUS_URL is not set" in err and "api/production" in err
    assert "every analysis run counts as failed" in err


@pytest.mark.parametrize(
    ("analysis", "message"),
    [
        ("{checks: [{name: x, query: 'up{a=\"{{ svc }}\"}', max: 1}]}", "unknown placeholder"),
        ("{checks: [{name: x, query: up}]}", "needs a threshold"),
        ("{interval: 10m}", "longer than the bake"),
    ],
)
def test_analysis_mistakes_are_named_by_key_and_line(analysis: str, message: str) -> None:
    text = CONFIG.split("          analysis:")[0] + f"          analysis: {analysis}\n"
    with pytest.raises(ConfigError) as error:
        parse_config(text)
    problem = "\n".join(error.value.problems)
    assert "deploy.services.api.environments.production" in problem
    assert message in problem and "line " in problem

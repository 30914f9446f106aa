"""Loading the YAML config file into typed models, with problems named by key and line.

A config mistake in an on-call bot is found at 3 a.m. otherwise, so every problem is
reported at once (not the first only), each with the dotted key and the file's line.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alerts.config import AlertsConfig, PagerDutyConfig
from bot.http.config import HttpConfig
from bot.replicas.leadership import LeaderConfig
from bot.report.schedule import ReportConfig
from bot.retention.config import RetentionConfig
from bot.runbooks.config import RunbooksConfig
from commands.config import DeployConfig
from incidents.config import IncidentsConfig
from oncall.config import HeartbeatConfig, OnCallConfig, check_unique_names

# The example config ships beside the package (source checkout, editable install, image).
BUNDLED_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "chatops.yaml"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    alerts: AlertsConfig
    pagerduty: PagerDutyConfig = Field(default_factory=PagerDutyConfig)
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    runbooks: RunbooksConfig = Field(default_factory=RunbooksConfig)
    leader: LeaderConfig = Field(default_factory=LeaderConfig)
    report: ReportConfig | None = None
    """The weekly operations report in Slack; none when absent."""
    http: HttpConfig = Field(default_factory=HttpConfig)
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)
    """Declared incidents, each with a Slack channel of its own (`/incident`)."""
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    """How long stored webhooks, Slack calls, groups and operations are kept."""
    oncall: OnCallConfig = Field(default_factory=OnCallConfig)
    heartbeats: list[HeartbeatConfig] = Field(default_factory=list)
    """Signals the bot expects regularly (Alertmanager's Watchdog, a backup job's
    `POST /heartbeats/{name}`); none by default, since each names its own channel."""

    _unique_heartbeats = field_validator("heartbeats")(check_unique_names)

    @model_validator(mode="after")
    def _retention_covers_the_report(self) -> Config:
        # The weekly report compares a week with the one before: two weeks of groups and
        # operations must still be there when it is drawn.
        needed = timedelta(days=14)
        if self.report is not None:
            for key in ("alert_groups", "operations"):
                if getattr(self.retention, key) < needed:
                    raise ValueError(
                        f"retention.{key} is shorter than the 14 days the weekly report "
                        "(report.every) compares; keep at least 14d or remove report:"
                    )
        return self


class ConfigError(Exception):
    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: {len(problems)} problem(s)\n" + "\n".join(problems))


def load_config(path: str | Path) -> Config:
    text = Path(path).read_text(encoding="utf-8")
    return parse_config(text, str(path))


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(
            source, [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]
        ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["line 1: the config must be a mapping of sections"])
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error, root) for error in exc.errors()]
        raise ConfigError(source, problems) from exc


def _describe(error: Any, root: yaml.Node | None) -> str:
    # pydantic marks a bad dict key with a trailing "[key]"; the key itself is the culprit.
    loc = [str(part) for part in error["loc"] if part != "[key]"]
    key = ".".join(loc) or "(top level)"
    line = line_of(root, loc)
    where = f"line {line}: " if line else ""
    if error["type"] == "extra_forbidden":
        return f"{where}{key}: unknown key"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}{key}: {message}"


def line_of(node: yaml.Node | None, loc: list[str]) -> int | None:
    """The line of the deepest node along `loc` that exists (1-based)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == part), None)
            if found is None:
                return line
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            return line
    return line

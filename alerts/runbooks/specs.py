"""What each runbook step action declares: its parameters, which of them pick what it
reaches (and so may be bounded when alert data fills them), and whether it changes things.

Runbooks name actions by type (`k8s.scale`) and give their parameters as data, partly
filled from alert labels that whoever can fire an alert controls. So the parameter
schema of every type lives here, in one place the runbook loader and linter, the
checklist and the use cases all use: a value that passes here is safe to hand to an
executor, and one that does not is refused with a message naming the parameter.

Pure: the executors that talk to Kubernetes, Alertmanager and HTTP endpoints are bound
to these types elsewhere (actions/steps/registry.py), so loading and linting runbooks
needs none of them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)

from alerts.durations import format_duration, parse_duration

# Kubernetes names end up in API request paths: DNS-1123 only (as actions.kube checks again).
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
MAX_SILENCE = timedelta(days=7)
MAX_HTTP_TIMEOUT = 30.0
MAX_LOG_LINES = 1000
MAX_URL = 2000


def _shown(value: object) -> str:
    # Values may come from alert labels: keep what is echoed back short.
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            f"{_shown(value)} is not a valid Kubernetes name: it must be a DNS-1123 label "
            "(at most 63 lowercase letters, digits and '-', starting and ending with a "
            "letter or digit)"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        raise ValueError(
            f"{_shown(value)} is not a valid Kubernetes name: it must be a DNS-1123 subdomain "
            "(at most 253 lowercase letters, digits, '-' and '.', each part starting and "
            "ending with a letter or digit)"
        )
    return value


def _silence_duration(value: object) -> timedelta:
    # A bare number would leave the unit to guesswork, so only "30m"-style text is taken.
    if not isinstance(value, str):
        raise ValueError(f"{_shown(value)} is not a duration; write it like 30m, 1h or 12h")
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError("a silence must last longer than 0s")
    if duration > MAX_SILENCE:
        raise ValueError(
            f"{value} is longer than the {format_duration(MAX_SILENCE)} a silence may last"
        )
    return duration


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{_shown(value)} is not an http:// or https:// URL with a host")
    if len(value) > MAX_URL or any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError(f"{_shown(value)} is not a valid URL (too long or contains spaces)")
    if parts.username or parts.password:
        # Credentials in a runbook would be readable by everyone with the repository.
        raise ValueError("URLs must not carry credentials (user:password@)")
    return value


Namespace = Annotated[StrictStr, AfterValidator(_dns_label)]
ContainerName = Annotated[StrictStr, AfterValidator(_dns_label)]
ObjectName = Annotated[StrictStr, AfterValidator(_dns_subdomain)]
SilenceDuration = Annotated[timedelta, BeforeValidator(_silence_duration)]
HttpUrl = Annotated[StrictStr, AfterValidator(_http_url)]


class Params(BaseModel):
    """Base of every parameter schema: unknown parameters are an error, values are literal."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class K8sPodsParams(Params):
    namespace: Namespace
    workload: ObjectName


class K8sLogsParams(Params):
    namespace: Namespace
    workload: ObjectName
    lines: StrictInt = Field(default=100, ge=1, le=MAX_LOG_LINES)
    container: ContainerName | None = None


class K8sRestartParams(Params):
    namespace: Namespace
    deployment: ObjectName


class K8sScaleParams(Params):
    namespace: Namespace
    deployment: ObjectName
    # The upper bound comes from the config at run time: see validate_scale.
    replicas: StrictInt = Field(ge=0)


class SilenceParams(Params):
    duration: SilenceDuration


class HttpCheckParams(Params):
    url: HttpUrl
    expect_status: StrictInt = Field(default=200, ge=100, le=599)
    timeout: float = Field(default=5.0, gt=0, le=MAX_HTTP_TIMEOUT)


class ParamsError(ValueError):
    """Parameters of a step action were refused; `problems` name each parameter."""

    def __init__(self, action_type: str, problems: list[ParamProblem]) -> None:
        self.action_type = action_type
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class UnknownActionError(LookupError):
    """The action type is not in the registry (or has no executor bound)."""


@dataclass(frozen=True)
class ParamProblem:
    """One refused parameter; `param` is None for a problem with the whole set."""

    param: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.param}: {self.message}" if self.param else self.message


# A module-level alias because ActionSpec has a field named `type`.
ParamsModel = type[Params]


@dataclass(frozen=True)
class ActionSpec:
    """One action type: what it does (for help texts), its parameter schema, and whether
    it changes the world (then it always goes through approval)."""

    type: str
    description: str
    params: ParamsModel
    changes_things: bool
    # The parameters that pick what the action reaches (a namespace and workload, a URL).
    # Filled from alert data, their values must be in the config's allow-list.
    target_params: tuple[str, ...] = ()
    # The parameters a template may fill from alert data; every other one is written
    # literally in the runbook, so a new parameter is never open to alert data by accident.
    alert_params: tuple[str, ...] = ()

    def accepts_text(self, param: str) -> bool:
        """Whether `param` is a string parameter (only those may hold templates)."""
        info = self.params.model_fields.get(param)
        return info is not None and _is_text(info.annotation)

    def accepts_template(self, param: str) -> bool:
        """Whether `param` may be filled from alert data (declared, and text)."""
        return param in self.alert_params and self.accepts_text(param)

    def problems(
        self, params: Mapping[str, object], *, deferred: Collection[str] = ()
    ) -> list[ParamProblem]:
        """Every problem with `params`; values of `deferred` parameters are checked later.

        The linter defers templated parameters: their final value exists only once an
        alert fills them in, so only their presence counts now.
        """
        try:
            self.params.model_validate(dict(params))
        except ValidationError as exc:
            return [_problem(error) for error in exc.errors() if not _deferred(error, deferred)]
        return []

    def validate(self, params: Mapping[str, object]) -> Params:
        """The validated parameters, or ParamsError naming every refused one."""
        try:
            return self.params.model_validate(dict(params))
        except ValidationError as exc:
            raise ParamsError(self.type, [_problem(e) for e in exc.errors()]) from None


def _deferred(error: Any, deferred: Collection[str]) -> bool:
    # An unknown parameter stays an error even when its value is a template.
    loc = error["loc"]
    return bool(loc) and loc[0] in deferred and error["type"] != "extra_forbidden"


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_text(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return any(_is_text(arg) for arg in get_args(annotation))
    return False


def _problem(error: Any) -> ParamProblem:
    loc = [str(part) for part in error["loc"]]
    param = ".".join(loc) or None
    if error["type"] == "extra_forbidden":
        return ParamProblem(param, "unknown parameter")
    if error["type"] == "missing":
        return ParamProblem(param, "required parameter is missing")
    return ParamProblem(param, str(error["msg"]).removeprefix("Value error, "))


def validate_scale(replicas: int, maximum: int) -> None:
    """Refuse a scale above the configured maximum (ParamsError), before anything runs."""
    if replicas > maximum:
        raise ParamsError(
            "k8s.scale",
            [
                ParamProblem(
                    "replicas",
                    f"{replicas} is above the maximum of {maximum} replicas the bot may set; "
                    "scale by hand or raise the maximum in the config",
                )
            ],
        )
    if replicas < 0:
        raise ParamsError("k8s.scale", [ParamProblem("replicas", "must be 0 or more")])


class StepSpecs:
    """Action specs by type: what the linter, the checklist and the use cases consult."""

    def __init__(self, specs: Iterable[ActionSpec] = ()) -> None:
        self._specs: dict[str, ActionSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: ActionSpec) -> None:
        if spec.type in self._specs:
            raise ValueError(f"step action {spec.type!r} is already registered")
        self._specs[spec.type] = spec

    def get(self, action_type: str) -> ActionSpec | None:
        return self._specs.get(action_type)

    def spec(self, action_type: str) -> ActionSpec:
        found = self._specs.get(action_type)
        if found is None:
            raise UnknownActionError(f"unknown step action type {action_type!r}")
        return found

    def __contains__(self, action_type: object) -> bool:
        return action_type in self._specs

    def __iter__(self) -> Iterator[ActionSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def types(self) -> list[str]:
        return sorted(self._specs)

    def validate(self, action_type: str, params: Mapping[str, object]) -> Params:
        return self.spec(action_type).validate(params)

    def needs_approval(self, action_type: str, requires_approval: bool) -> bool:
        return requires_approval or self.spec(action_type).changes_things

    def help_lines(self) -> list[str]:
        """One line per type, for `help` and the linter's "known types" hint."""
        return [
            f"{spec.type}: {spec.description}"
            + (" (needs approval)" if spec.changes_things else "")
            for spec in sorted(self, key=lambda s: s.type)
        ]


_WORKLOAD = ("namespace", "workload")
_DEPLOYMENT = ("namespace", "deployment")
BUILTIN_SPECS = (
    ActionSpec(
        "k8s.pods",
        "pod status of a Deployment",
        K8sPodsParams,
        changes_things=False,
        target_params=_WORKLOAD,
        alert_params=_WORKLOAD,
    ),
    ActionSpec(
        "k8s.logs",
        "last lines of a Deployment's logs",
        K8sLogsParams,
        changes_things=False,
        target_params=_WORKLOAD,
        alert_params=(*_WORKLOAD, "container"),
    ),
    ActionSpec(
        "k8s.restart",
        "rolling restart of a Deployment",
        K8sRestartParams,
        changes_things=True,
        target_params=_DEPLOYMENT,
        alert_params=_DEPLOYMENT,
    ),
    ActionSpec(
        "k8s.scale",
        "set a Deployment's replica count",
        K8sScaleParams,
        changes_things=True,
        target_params=_DEPLOYMENT,
        alert_params=_DEPLOYMENT,
    ),
    ActionSpec(
        "alertmanager.silence",
        "silence the labels the group's alerts share (as Silence 1h)",
        SilenceParams,
        changes_things=True,
    ),
    ActionSpec(
        "http.check",
        "one HTTP request: status and latency",
        HttpCheckParams,
        changes_things=False,
        target_params=("url",),
        alert_params=("url",),
    ),
)


# The specs alone, for loading and linting runbooks without any executor.
SPECS = StepSpecs(BUILTIN_SPECS)

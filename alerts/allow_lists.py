"""The allow-lists that bound what alert data may point a runbook step at, as config.

`runbooks.targets` and `runbooks.http_hosts` hold for every alert; a route may carry its
own (`alerts.routes[].runbooks`), which replace them for that route's alerts, so that a
team's alerts reach only the team's workloads. A `targets` entry is a Deployment name,
`*` (any in the namespace) or a label selector (`app=api,tier=web`: the Deployments whose
labels hold all of those), since names change with every blue/green colour and labels
do not.

A leaf module: alerts/config.py and bot/runbooks/config.py both validate with it, and the
decision itself (alerts/runbooks/targets.py) reads selectors with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

ANY = "*"
# Label keys as Kubernetes writes them: an optional DNS prefix and "/", then a name.
_KEY = re.compile(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_selector(entry: str) -> bool:
    """Whether a `targets` entry is a label selector (a name never holds "=")."""
    return "=" in entry


def parse_selector(entry: str) -> dict[str, str]:
    """`app=api,tier=web` as {"app": "api", "tier": "web"}; ValueError names what is wrong."""
    wanted: dict[str, str] = {}
    for part in entry.split(","):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not _KEY.fullmatch(key) or len(key) > 316:
            raise ValueError(f"{part.strip()!r} in {entry!r} is not a label key=value")
        if value.startswith("=") or not _VALUE.fullmatch(value) or len(value) > 63:
            raise ValueError(f"{value!r} in {entry!r} is not a label value (only = is supported)")
        wanted[key] = value
    return wanted


def selector_holds(entry: str, labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in parse_selector(entry).items())


def check_targets(value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
    """Every namespace a DNS label, every entry `*`, a Deployment name or a selector."""
    for namespace, entries in (value or {}).items():
        if len(namespace) > 63 or not _NAME.fullmatch(namespace) or "." in namespace:
            raise ValueError(f"{namespace!r} is not a Kubernetes namespace name")
        for entry in entries:
            if is_selector(entry):
                parse_selector(entry)
            elif entry != ANY and (len(entry) > 253 or not _NAME.fullmatch(entry)):
                raise ValueError(
                    f"{entry!r} (in {namespace}) is not `*`, a Deployment name or a label "
                    "selector like app=api"
                )
    return value


class RouteRunbooks(BaseModel):
    """What runbook steps may reach for one route's alerts when alert data picks it."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    targets: dict[str, list[str]] | None = Field(default=None)
    """Namespace -> Deployment names, `*` or label selectors (`app=api`), replacing
    `runbooks.targets` for this route's alerts. Unset: `runbooks.targets`."""
    http_hosts: list[str] | None = Field(default=None)
    """Hosts an `http.check` URL may take from this route's alert data, replacing
    `runbooks.http_hosts` for them. Unset: `runbooks.http_hosts`."""

    _targets = field_validator("targets")(check_targets)

"""Which targets alert data may pick for a runbook step.

Whoever can send an alert chooses its labels and annotations. A step parameter filled
from them (`{{ labels.namespace }}`) that picks what the action reaches (a namespace and
workload, a URL's host) is therefore checked against the allow-list in the config:
`runbooks.targets` (namespace -> Deployment names, `*` for any, or label selectors) and
`runbooks.http_hosts`, or the alert's route's own (`alerts.routes[].runbooks`), which
replace them. Values written literally in the runbook are the author's choice and are not
checked here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from alerts.allow_lists import ANY, is_selector, selector_holds
from alerts.config import AlertsConfig
from alerts.policy import match_route
from alerts.runbooks.templates import has_template

GLOBAL_TARGETS = "runbooks.targets"
GLOBAL_HOSTS = "runbooks.http_hosts"


@dataclass(frozen=True)
class TargetScope:
    """The allow-lists that hold for one alert, and the config keys they come from (so
    that a refusal says where to list a target)."""

    targets: Mapping[str, Sequence[str]]
    http_hosts: Sequence[str]
    targets_key: str = GLOBAL_TARGETS
    hosts_key: str = GLOBAL_HOSTS


def route_scopes(
    alerts: AlertsConfig | None,
    targets: Mapping[str, Sequence[str]],
    http_hosts: Sequence[str],
) -> list[TargetScope]:
    """The scope of every route (the global lists where a route has none of its own)."""
    if alerts is None:
        return [TargetScope(targets, http_hosts)]
    return [_scope(i, alerts, targets, http_hosts) for i in range(len(alerts.routes))]


def scope_for(
    labels: Mapping[str, str],
    alerts: AlertsConfig | None,
    targets: Mapping[str, Sequence[str]],
    http_hosts: Sequence[str],
) -> TargetScope:
    """The scope of the route the alert group with `labels` goes to."""
    if alerts is None:
        return TargetScope(targets, http_hosts)
    route = match_route(labels, alerts)
    index = next(i for i, r in enumerate(alerts.routes) if r is route)
    return _scope(index, alerts, targets, http_hosts)


def _scope(
    index: int,
    alerts: AlertsConfig,
    targets: Mapping[str, Sequence[str]],
    http_hosts: Sequence[str],
) -> TargetScope:
    own = alerts.routes[index].runbooks
    where = f"alerts.routes[{index}].runbooks"
    if own is None:
        return TargetScope(targets, http_hosts)
    return TargetScope(
        targets if own.targets is None else own.targets,
        http_hosts if own.http_hosts is None else own.http_hosts,
        GLOBAL_TARGETS if own.targets is None else f"{where}.targets",
        GLOBAL_HOSTS if own.http_hosts is None else f"{where}.http_hosts",
    )


def host_from_alert(url: str) -> bool:
    """Whether a template in `url` can decide its host (not only its path or query)."""
    if not has_template(url):
        return False
    scheme, sep, rest = url.partition("://")
    if not sep or has_template(scheme):
        return True  # the whole URL, or its scheme, comes from the alert
    # The literal text up to the first "/", "?" or "#" is the authority; a template there
    # (or one that opens there) can name any host.
    end = min(
        (i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest)
    )
    return "{{" in rest[:end]


def from_alert(target_params: Sequence[str], raw: Mapping[str, Any]) -> list[str]:
    """The target parameters whose value comes (partly) from alert data."""
    found = []
    for name in target_params:
        value = raw.get(name)
        if not isinstance(value, str):
            continue
        if (name == "url" and host_from_alert(value)) or (name != "url" and has_template(value)):
            found.append(name)
    return found


def _workload(filled: Mapping[str, Any]) -> tuple[str, str]:
    return str(filled.get("namespace", "")), str(
        filled.get("workload") or filled.get("deployment") or ""
    )


def labels_needed(
    target_params: Sequence[str],
    raw: Mapping[str, Any],
    filled: Mapping[str, Any],
    scope: TargetScope,
) -> tuple[str, str] | None:
    """The (namespace, Deployment) whose labels decide, when only a label selector of a
    listed namespace can allow it; None when names alone decide."""
    chosen = from_alert(target_params, raw)
    if not chosen or "url" in chosen:
        return None
    namespace, name = _workload(filled)
    allowed = scope.targets.get(namespace) or []
    if ANY in allowed or name in allowed or not any(is_selector(e) for e in allowed):
        return None
    return namespace, name


def outside_allow_list(
    target_params: Sequence[str],
    raw: Mapping[str, Any],
    filled: Mapping[str, Any],
    scope: TargetScope,
    *,
    workload_labels: Mapping[str, str] | None = None,
) -> str | None:
    """Why the filled target is not one alert data may pick, or None when it may.
    `workload_labels`: the Deployment's labels, when `labels_needed` asked for them (None:
    not read, or no such Deployment)."""
    chosen = from_alert(target_params, raw)
    if not chosen:
        return None
    if "url" in chosen:
        host = (urlsplit(str(filled.get("url", ""))).hostname or "").rstrip(".")
        if host.lower() not in {h.lower().rstrip(".") for h in scope.http_hosts}:
            return f"the host {host!r} comes from alert data and is not in {scope.hosts_key}"
        return None
    namespace, name = _workload(filled)
    allowed = scope.targets.get(namespace)
    if allowed is not None and (ANY in allowed or name in allowed):
        return None
    if allowed is not None and workload_labels is not None:
        selectors = [e for e in allowed if is_selector(e)]
        if any(selector_holds(e, workload_labels) for e in selectors):
            return None
    return f"{namespace}/{name} comes from alert data and is not in {scope.targets_key}"


def unbounded_targets(
    runbooks: Sequence[Any], registry: Any, scopes: Sequence[TargetScope]
) -> list[str]:
    """For `runbooks lint`: each step that lets alert data pick a target or a host while
    an allow-list that would hold for some alerts is empty, as `file: step ID: message`."""
    problems = []
    for runbook in runbooks:
        for step in runbook.steps:
            action = step.action
            spec = None if action is None else registry.get(action.type)
            if action is None or spec is None:
                continue
            for param in from_alert(spec.target_params, action.params):
                empty = dict.fromkeys(
                    (s.hosts_key if param == "url" else s.targets_key)
                    for s in scopes
                    if not (s.http_hosts if param == "url" else s.targets)
                )
                for where in empty:
                    problems.append(
                        f"{runbook.path}: step {step.id}: `{param}` lets alert data pick "
                        f"what {action.type} reaches, and {where} is empty: list what it may "
                        "pick there, or write the value literally"
                    )
    return problems

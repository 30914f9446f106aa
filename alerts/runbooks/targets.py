"""Which targets alert data may pick for a runbook step.

Whoever can send an alert chooses its labels and annotations. A step parameter filled
from them (`{{ labels.namespace }}`) that picks what the action reaches (a namespace and
workload, a URL's host) is therefore checked against the allow-list in the config:
`runbooks.targets` (namespace -> workload or deployment names, `*` for any) and
`runbooks.http_hosts`. Values written literally in the runbook are the author's choice and
are not checked here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from alerts.runbooks.templates import has_template

ANY = "*"


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


def outside_allow_list(
    target_params: Sequence[str],
    raw: Mapping[str, Any],
    filled: Mapping[str, Any],
    *,
    targets: Mapping[str, Sequence[str]],
    http_hosts: Sequence[str],
) -> str | None:
    """Why the filled target is not one alert data may pick, or None when it may."""
    chosen = from_alert(target_params, raw)
    if not chosen:
        return None
    if "url" in chosen:
        host = (urlsplit(str(filled.get("url", ""))).hostname or "").rstrip(".")
        if host.lower() not in {h.lower().rstrip(".") for h in http_hosts}:
            return f"the host {host!r} comes from alert data and is not in runbooks.http_hosts"
        return None
    namespace = str(filled.get("namespace", ""))
    name = str(filled.get("workload") or filled.get("deployment") or "")
    allowed = targets.get(namespace)
    if allowed is None or not (ANY in allowed or name in allowed):
        return f"{namespace}/{name} comes from alert data and is not in runbooks.targets"
    return None


def unbounded_targets(
    runbooks: Sequence[Any],
    registry: Any,
    *,
    targets: Mapping[str, Sequence[str]],
    http_hosts: Sequence[str],
) -> list[str]:
    """For `runbooks lint`: each step that lets alert data pick a target or a host while
    the config has no allow-list for it, as `file: step ID: message`."""
    problems = []
    for runbook in runbooks:
        for step in runbook.steps:
            action = step.action
            spec = None if action is None else registry.get(action.type)
            if action is None or spec is None:
                continue
            for param in from_alert(spec.target_params, action.params):
                if param == "url" and not http_hosts:
                    where = "runbooks.http_hosts"
                elif param != "url" and not targets:
                    where = "runbooks.targets"
                else:
                    continue
                problems.append(
                    f"{runbook.path}: step {step.id}: `{param}` lets alert data pick "
                    f"what {action.type} reaches, and {where} is empty: list what it may "
                    "pick there, or write the value literally"
                )
    return problems

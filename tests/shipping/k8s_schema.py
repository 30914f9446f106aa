"""Strict checks of Kubernetes objects against the API's own models, without a cluster.

The generated models of `kubernetes_asyncio` (a runtime dependency already) know every
field's type and which fields are required, but deserializing into them silently drops
unknown keys: a misspelled `readinessProbe` would vanish. So this walks the document
beside the model's `openapi_types` / `attribute_map`, names unknown fields and wrong
types by path, then builds the model to let its setters refuse missing required fields.
"""

from __future__ import annotations

import re
from typing import Any

from kubernetes_asyncio.client import models

_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict\(([^,]+), (.+)\)$")
_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "datetime": (str,),
    "date": (str,),
    "object": (object,),  # IntOrString, Quantity-like and free-form fields
}


def model_for(api_version: str, kind: str) -> type[Any]:
    version = api_version.rsplit("/", 1)[-1]
    name = f"{version[0].upper()}{version[1:]}{kind}"
    model = getattr(models, name, None)
    if model is None:
        raise LookupError(f"no Kubernetes model {name} for {api_version} {kind}")
    return model  # type: ignore[no-any-return]


def check(document: dict[str, Any]) -> list[str]:
    """Every problem in one object, as `path: message`; [] when it is valid."""
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["(top): apiVersion and kind are required"]
    try:
        model = model_for(api_version, kind)
    except LookupError as exc:
        return [str(exc)]
    problems: list[str] = []
    _walk(document, model.__name__, kind, problems)
    return problems


def _walk(value: Any, type_name: str, path: str, problems: list[str]) -> Any:
    if (match := _LIST.match(type_name)) is not None:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list")
            return None
        return [
            _walk(item, match.group(1), f"{path}[{i}]", problems) for i, item in enumerate(value)
        ]
    if (match := _DICT.match(type_name)) is not None:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a mapping")
            return None
        return {k: _walk(v, match.group(2), f"{path}.{k}", problems) for k, v in value.items()}
    if type_name in _PRIMITIVES:
        if not isinstance(value, _PRIMITIVES[type_name]) or (
            type_name in ("int", "float") and isinstance(value, bool)
        ):
            problems.append(f"{path}: expected {type_name}, got {type(value).__name__}")
        return value
    model = getattr(models, type_name)
    if not isinstance(value, dict):
        problems.append(f"{path}: expected a {type_name} mapping")
        return None
    by_json_name = {json_name: attr for attr, json_name in model.attribute_map.items()}
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        attr = by_json_name.get(key)
        if attr is None:
            problems.append(f"{path}.{key}: unknown field of {type_name}")
            continue
        kwargs[attr] = _walk(item, model.openapi_types[attr], f"{path}.{key}", problems)
    try:
        return model(**kwargs)
    except ValueError as exc:  # the generated setters refuse a missing required field
        problems.append(f"{path}: {exc}")
        return None

"""Filling `{{ labels.NAME }}` and `{{ annotations.NAME }}` in step parameters from the alert.

Label values are written by whoever can make an alert fire, and the filled parameters
name things the bot then acts on. So this is deliberately not a template engine: the two
references above are substituted in one pass (a value that itself contains `{{` stays
text), nothing else is evaluated, a missing or empty value is an error rather than an
empty string, and the result goes through the action's parameter schema before anyone
may use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from alerts.runbooks import messages as m
from alerts.runbooks.specs import SPECS, ActionSpec, Params, ParamsError, StepSpecs

Namespace = Literal["labels", "annotations"]

# Any `{{ ... }}` on one line: what the author meant as a template, valid or not.
_ANY_TEMPLATE = re.compile(r"\{\{(?P<inner>[^{}\n]*)\}\}")
_REFERENCE = re.compile(r"\s*(?P<ns>[A-Za-z_][A-Za-z0-9_]*)\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*")


class TemplateError(ValueError):
    """A parameter could not be filled or its filled value was refused; safe to show."""


@dataclass(frozen=True)
class Reference:
    namespace: Namespace
    name: str

    def __str__(self) -> str:
        return f"{{{{ {self.namespace}.{self.name} }}}}"


def has_template(text: str) -> bool:
    return "{{" in text or "}}" in text


def _reference(inner: str) -> Reference | None:
    found = _REFERENCE.fullmatch(inner)
    if found is None:
        return None
    if found["ns"] == "labels":
        return Reference("labels", found["name"])
    if found["ns"] == "annotations":
        return Reference("annotations", found["name"])
    return None


def template_problems(text: str) -> list[str]:
    """Why templates in `text` can never be filled (the linter's "unreachable templates")."""
    problems: list[str] = []
    for found in _ANY_TEMPLATE.finditer(text):
        inner = found["inner"]
        if _reference(inner) is not None:
            continue
        shape = _REFERENCE.fullmatch(inner)
        if shape is not None:
            problems.append(m.TEMPLATE_UNKNOWN_NAMESPACE.format(template=found[0], ns=shape["ns"]))
        else:
            problems.append(m.TEMPLATE_UNREACHABLE.format(template=found[0]))
    rest = _ANY_TEMPLATE.sub("", text)
    if "{{" in rest or "}}" in rest:
        problems.append(m.TEMPLATE_MALFORMED.format(text=_short(text)))
    return problems


def references(text: str) -> list[Reference]:
    """The well-formed references in `text`, in order."""
    found = (_reference(match["inner"]) for match in _ANY_TEMPLATE.finditer(text))
    return [ref for ref in found if ref is not None]


def fill(text: str, labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """`text` with its references replaced; TemplateError for a missing or empty value."""
    problems = template_problems(text)
    if problems:
        raise TemplateError(problems[0])
    sources = {"labels": labels, "annotations": annotations}

    def replace(found: re.Match[str]) -> str:
        ref = _reference(found["inner"])
        assert ref is not None  # template_problems refused every other shape
        value = sources[ref.namespace].get(ref.name)
        kind = "label" if ref.namespace == "labels" else "annotation"
        if value is None:
            raise TemplateError(m.TEMPLATE_MISSING.format(kind=kind, name=ref.name))
        if not value.strip():
            raise TemplateError(m.TEMPLATE_EMPTY.format(kind=kind, name=ref.name))
        return value

    return _ANY_TEMPLATE.sub(replace, text)


def resolve(
    params: Mapping[str, Any],
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    *,
    spec: ActionSpec | None = None,
) -> dict[str, Any]:
    """The params with every string filled from the alert, checked against `spec` if given.

    TemplateError names the parameter: a missing or empty label, or a filled value the
    action's schema refuses (`; rm -rf /` as a namespace, `../` as a Deployment name).
    """
    filled: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, str):
            try:
                filled[name] = fill(value, labels, annotations)
            except TemplateError as exc:
                raise TemplateError(f"{name}: {exc}") from None
        else:
            filled[name] = value
    if spec is not None:
        _validated(spec, filled)
    return filled


def resolve_action(
    action_type: str,
    params: Mapping[str, Any],
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    *,
    registry: StepSpecs = SPECS,
) -> Params:
    """The validated parameter model an executor takes, filled from the alert."""
    spec = registry.spec(action_type)
    return _validated(spec, resolve(params, labels, annotations))


def _validated(spec: ActionSpec, filled: Mapping[str, Any]) -> Params:
    try:
        return spec.validate(filled)
    except ParamsError as exc:
        raise TemplateError(m.PARAMS_REFUSED.format(problems=exc)) from None


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:79] + "…"

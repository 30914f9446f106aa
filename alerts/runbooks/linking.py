"""Which runbook an alert gets: by `runbook` annotation, by `runbook_url`, or by labels.

The order is the one runbooks/README.md promises rule authors, so that an alert can be
pointed at a runbook explicitly and falls back on the runbooks' `applies_to` otherwise.
An annotation naming a runbook that does not exist does not end the search: the alert
still gets the best runbook the next rule finds, and `link_runbook` reports the dangling
name so the bot can log it.

Matchers see the alert's labels with `priority` and `severity` as the bot understands
them: `priority` is the derived priority (the priority label, else the severity map,
else the default), so a fallback on `priority=~"P0|P1"` reaches an alert that is P1
only through its severity; `severity` is the configured severity label's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from alerts.policy import DefaultPriorityRules, PriorityRules, priority_of
from alerts.runbooks.matchers import matches_all
from alerts.runbooks.model import Runbook, RunbookSet

LinkedBy = Literal["annotation", "url", "labels"]


@dataclass(frozen=True)
class RunbookLink:
    runbook: Runbook | None
    linked_by: LinkedBy | None = None
    # Ids that the `runbook` / `runbook_url` annotations named but no runbook has.
    dangling: tuple[str, ...] = ()


def runbook_id_from_url(url: str) -> str | None:
    """The id a `runbook_url` names: its last path segment without `.md`."""
    try:
        path = urlsplit(url.strip()).path
    except ValueError:
        return None
    segment = unquote(path.rstrip("/").rsplit("/", 1)[-1])
    segment = segment.removesuffix(".md")
    return segment or None


DEFAULT_RULES = DefaultPriorityRules()


def linking_labels(labels: Mapping[str, str], rules: PriorityRules) -> dict[str, str]:
    """The labels `applies_to` is matched against: the alert's own, with the derived
    `priority` and the configured severity label's value as `severity`."""
    seen = dict(labels)
    seen["priority"] = priority_of(labels, rules)
    seen["severity"] = labels.get(rules.severity_label, "")
    return seen


def matching_by_labels(labels: Mapping[str, str], runbooks: RunbookSet) -> Runbook | None:
    """The first runbook, in file-name byte order, whose `applies_to` all hold.

    A runbook without `applies_to` is reachable through annotations only: an empty list
    of matchers would otherwise match every alert.
    """
    return next(
        (rb for rb in runbooks if rb.applies_to and matches_all(rb.applies_to, labels)),
        None,
    )


def link_runbook(
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    runbooks: RunbookSet,
    rules: PriorityRules = DEFAULT_RULES,
) -> RunbookLink:
    dangling: list[str] = []
    named = annotations.get("runbook", "").strip()
    if named:
        found = runbooks.get(named)
        if found is not None:
            return RunbookLink(found, "annotation")
        dangling.append(named)
    url = annotations.get("runbook_url", "").strip()
    from_url = runbook_id_from_url(url) if url else None
    if from_url:
        found = runbooks.get(from_url)
        if found is not None:
            return RunbookLink(found, "url", tuple(dangling))
        dangling.append(from_url)
    by_labels = matching_by_labels(linking_labels(labels, rules), runbooks)
    if by_labels is not None:
        return RunbookLink(by_labels, "labels", tuple(dangling))
    return RunbookLink(None, None, tuple(dangling))


def find_runbook(
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    runbooks: RunbookSet,
    rules: PriorityRules = DEFAULT_RULES,
) -> Runbook | None:
    """The runbook for an alert, or None: then the alert says no runbook covers it."""
    return link_runbook(labels, annotations, runbooks, rules).runbook

"""What Silence 1h on an alert group may silence.

A group's `groupLabels` are whatever the sender put there: `{severity: critical}` alone
would silence every critical alert for an hour. A silence is therefore built from the
labels every alert of the group shares (so it covers the group's alerts, all of them), and
it must still name the alert and match nothing outside the group; a broader one needs an
approver.

Silence all on a storm summary may cover several groups with one silence, only when that
one silence matches exactly what the groups' own silences would (`one_silence_for`).

Matchers cannot say "and no other label": a silence on the labels of a decoy pushed to
Alertmanager's API with few labels matches every later real alert that carries those
labels and more. So every silence the bot makes names the fingerprints it was made for
(`covers_note`, in its comment, where every replica and a restart can read it), and a
silence found silencing any other alert is expired (bot/alerts/silence_watch.py).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from alerts.slack_text import inline_code

COVERS_MARK = "[chatops covers: "


def shared_labels(
    alert_labels: Iterable[Mapping[str, str]], fallback: Mapping[str, str]
) -> dict[str, str]:
    """The labels (name and value) that every one of the group's alerts carries."""
    shared: dict[str, str] | None = None
    for labels in alert_labels:
        if shared is None:
            shared = {str(k): str(v) for k, v in labels.items()}
        else:
            shared = {k: v for k, v in shared.items() if labels.get(k) == v}
    return dict(fallback) if shared is None else shared


def silence_scope(
    alerts: Iterable[tuple[str, Mapping[str, str]]], fallback: Mapping[str, str]
) -> tuple[dict[str, str], frozenset[str]]:
    """What a silence of the group matches and covers: the labels its alerts (fingerprint,
    labels) share, and their fingerprints. Silence 1h and the runbook step use the same."""
    listed = list(alerts)
    return shared_labels((labels for _, labels in listed), fallback), frozenset(
        fingerprint for fingerprint, _ in listed
    )


def reported_scope(
    alerts: Iterable[tuple[str, Mapping[str, str], bool]], fallback: Mapping[str, str]
) -> tuple[dict[str, str], frozenset[str], SharedSilence | None]:
    """`silence_scope` of the alerts (fingerprint, labels, reported) Alertmanager still
    reports, when some are no longer reported (silenced or inhibited there): their shared
    labels, their fingerprints, and when those labels match an unreported alert too, one
    label whose values tell the reported ones apart, to match with a regex. Without such
    a label the silence covers the whole group, as before."""
    listed = list(alerts)
    everything = [(fingerprint, labels) for fingerprint, labels, _ in listed]
    reported = [(fingerprint, labels) for fingerprint, labels, shown in listed if shown]
    others = [labels for _, labels, shown in listed if not shown]
    if not others or not reported:
        return (*silence_scope(everything, fallback), None)
    labels, ours = silence_scope(reported, fallback)
    reached = [o for o in others if all(o.get(k) == v for k, v in labels.items())]
    if not reached:
        return labels, ours, None
    names = set.intersection(*(set(found) for _, found in reported)) - set(labels)
    for name in sorted(names):
        values = {str(found[name]) for _, found in reported}
        if all(str(other.get(name, "")) not in values for other in reached):
            return labels, ours, SharedSilence(labels, name, tuple(sorted(values)))
    return (*silence_scope(everything, fallback), None)


def matchers_text(matchers: Iterable[object]) -> str:
    """Matchers as Slack shows them: each in inline code (label values come from alerts)."""
    return ", ".join(inline_code(str(matcher)) for matcher in matchers) or "(none)"


def why_broader(labels: Mapping[str, str], outside: int) -> str | None:
    """Why a silence on `labels` would reach beyond the group, or None when it does not.
    `outside`: how many alerts Alertmanager knows that match it but are not the group's."""
    if not labels.get("alertname"):
        return "its alerts share no alertname, so it would silence other alerts too"
    if outside:
        noun = "alert" if outside == 1 else "alerts"
        return f"it would also silence {outside} other {noun} Alertmanager has now"
    return None


@dataclass(frozen=True)
class SharedSilence:
    """One matcher set for several groups: the labels equal in all of them, and the one
    label that tells them apart, matched against exactly the groups' values."""

    labels: dict[str, str]
    varying: str
    values: tuple[str, ...]

    @property
    def pattern(self) -> str:
        """The regex of `values`; Alertmanager anchors it, so it matches nothing else."""
        return "|".join(_escape_regex(value) for value in self.values)


def one_silence_for(groups: Sequence[Mapping[str, str]]) -> SharedSilence | None:
    """A single silence covering exactly these groups, each given by the labels its own
    silence would match, or None when they do not share such labels (then each group gets
    its own silence). Every group must have the same label names and differ in one label
    only: then "the shared labels, and that label one of the groups' values" matches an
    alert exactly when one of the groups' own silences would, never more."""
    if len(groups) < 2 or any(set(g) != set(groups[0]) for g in groups):
        return None
    first = groups[0]
    shared = {k: v for k, v in first.items() if all(g[k] == v for g in groups)}
    varying = sorted(set(first) - set(shared))
    if not shared.get("alertname") or len(varying) != 1:
        return None
    values = tuple(sorted({g[varying[0]] for g in groups}))
    return SharedSilence(labels=shared, varying=varying[0], values=values)


def _escape_regex(value: str) -> str:
    # Alertmanager's regexes are Go's: a backslash before ASCII punctuation makes it
    # literal; before anything else it is an error or a class, so only punctuation is.
    return "".join(f"\\{c}" if c in string.punctuation else c for c in value)


def covers_note(fingerprints: Iterable[str]) -> str:
    """The end of a silence's comment naming the alerts (fingerprints) it was made for."""
    return f" {COVERS_MARK}{','.join(sorted(fingerprints))}]"


def covered(comment: str) -> frozenset[str] | None:
    """The fingerprints a silence's comment says it was made for; None if not the bot's."""
    start = comment.rfind(COVERS_MARK)
    if start < 0 or not comment.endswith("]"):
        return None
    listed = comment[start + len(COVERS_MARK) : -1]
    return frozenset(fp for fp in listed.split(",") if fp)


def silences_reaching_beyond(
    silences: Mapping[str, str], alerts: Iterable[tuple[str, Sequence[str]]]
) -> dict[str, set[str]]:
    """Which of the bot's silences (id -> comment) silence an alert (fingerprint,
    silencedBy) they were not made for, and those alerts' fingerprints."""
    made_for = {sid: covered(comment) for sid, comment in silences.items()}
    beyond: dict[str, set[str]] = {}
    for fingerprint, silenced_by in alerts:
        for sid in silenced_by:
            ours = made_for.get(sid)
            if ours is not None and fingerprint not in ours:
                beyond.setdefault(sid, set()).add(fingerprint)
    return beyond

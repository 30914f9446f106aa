"""What Silence 1h on an alert group may silence.

A group's `groupLabels` are whatever the sender put there: `{severity: critical}` alone
would silence every critical alert for an hour. A silence is therefore built from the
labels every alert of the group shares (so it covers the group's alerts, all of them), and
it must still name the alert and match nothing outside the group; a broader one needs an
approver.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


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


def why_broader(labels: Mapping[str, str], outside: int) -> str | None:
    """Why a silence on `labels` would reach beyond the group, or None when it does not.
    `outside`: how many alerts Alertmanager knows that match it but are not the group's."""
    if not labels.get("alertname"):
        return "its alerts share no alertname, so it would silence other alerts too"
    if outside:
        noun = "alert" if outside == 1 else "alerts"
        return f"it would also silence {outside} other {noun} Alertmanager has now"
    return None

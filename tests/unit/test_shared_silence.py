"""One silence for several groups only when it matches exactly what their own would."""

from __future__ import annotations

import re

from alerts.silences import one_silence_for

BASE = {"alertname": "DiskFull", "service": "api"}


def test_groups_told_apart_by_one_label_share_a_regex_of_exactly_their_values() -> None:
    shared = one_silence_for([{**BASE, "instance": "a.b:1"}, {**BASE, "instance": "c|d"}])
    assert shared is not None
    assert shared.labels == BASE and shared.varying == "instance"
    # Alertmanager anchors the regex: it matches the two values and nothing else.
    pattern = re.compile(f"^(?:{shared.pattern})$")
    assert [v for v in ("a.b:1", "c|d", "axb:1", "c", "d") if pattern.match(v)] == ["a.b:1", "c|d"]


def test_no_shared_silence_without_an_alertname_or_with_two_differing_labels() -> None:
    two = [{**BASE, "instance": "a", "pod": "x"}, {**BASE, "instance": "b", "pod": "y"}]
    assert one_silence_for(two) is None
    names = [{"alertname": "A", "service": "api"}, {"alertname": "B", "service": "api"}]
    assert one_silence_for(names) is None
    assert one_silence_for([{**BASE, "instance": "a"}, {**BASE}]) is None  # other label names
    assert one_silence_for([{**BASE, "instance": "a"}]) is None  # one group: its own silence

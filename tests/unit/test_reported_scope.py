"""What Silence 1h matches when Alertmanager no longer reports some of the group's alerts
(silenced or inhibited there): only the alerts still reported, when a label tells them
apart; the whole group, as before, when none does."""

from __future__ import annotations

from alerts.silences import reported_scope

BASE = {"alertname": "HighLatency", "service": "web"}


def alert(instance: str, reported: bool, **extra: str) -> tuple[str, dict[str, str], bool]:
    return f"fp-{instance}", {**BASE, "instance": instance, **extra}, reported


def test_a_regex_on_the_label_that_tells_the_reported_alerts_apart() -> None:
    labels, ours, narrowed = reported_scope(
        [alert("web-1", False), alert("web-2", True), alert("web-3", True)], {}
    )
    assert labels == BASE
    assert ours == {"fp-web-2", "fp-web-3"}
    assert narrowed is not None
    assert (narrowed.varying, narrowed.values) == ("instance", ("web-2", "web-3"))
    assert narrowed.pattern == r"web\-2|web\-3"


def test_no_regex_when_the_shared_labels_already_leave_the_unreported_alert_out() -> None:
    labels, ours, narrowed = reported_scope(
        [alert("web-1", False, zone="a"), alert("web-2", True, zone="b")], {}
    )
    assert labels == {**BASE, "instance": "web-2", "zone": "b"}
    assert ours == {"fp-web-2"} and narrowed is None


def test_the_whole_group_when_no_label_tells_them_apart() -> None:
    same = {**BASE, "instance": "web-1"}
    labels, ours, narrowed = reported_scope(
        [("fp-a", same, True), ("fp-b", {**same, "pod": "x"}, False)], {}
    )
    assert labels == same and ours == {"fp-a", "fp-b"} and narrowed is None


def test_every_alert_reported_is_the_group_as_before() -> None:
    labels, ours, narrowed = reported_scope([alert("web-1", True), alert("web-2", True)], {})
    assert labels == BASE and ours == {"fp-web-1", "fp-web-2"} and narrowed is None

"""A bot silence names the alerts it was made for, and is found out when it silences others."""

from __future__ import annotations

from alerts.silences import covered, covers_note, silences_reaching_beyond


def test_the_comment_names_the_fingerprints_and_reads_back() -> None:
    comment = "Silenced from Slack (C0000INCID) by U1" + covers_note({"fp2", "fp1"})
    assert comment.endswith(" [chatops covers: fp1,fp2]")
    assert covered(comment) == {"fp1", "fp2"}
    assert covered("someone else's silence") is None
    assert covered("Runbook x step y" + covers_note(())) == frozenset()


def test_only_the_bots_silences_reaching_other_alerts_are_reported() -> None:
    silences = {
        "s-ours": "Silenced from Slack" + covers_note({"decoy"}),
        "s-approved-broad": "Silenced from Slack by an approver",  # no list: not watched
    }
    alerts = [
        ("decoy", ["s-ours"]),
        ("real", ["s-ours", "s-approved-broad"]),
        ("other", ["s-from-the-alertmanager-ui"]),
    ]
    assert silences_reaching_beyond(silences, alerts) == {"s-ours": {"real"}}

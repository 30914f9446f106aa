"""The checklist, its buttons and the completion summary, as Slack would accept them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.runbooks import (
    ButtonError,
    Runbook,
    is_complete,
    load_runbooks,
    no_runbook_text,
    parse_runbook,
    parse_step_button,
    parse_step_click,
    render_checklist,
    render_no_runbook,
    render_refusal,
    render_summary,
    step_button_value,
)
from alerts.runbooks.render import Progress
from bot.runbooks.cli import DEFAULT_DIRECTORY
from bot.sandbox.blocks import validate_blocks

SHIPPED = load_runbooks(DEFAULT_DIRECTORY)
T0 = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
LABELS = {"namespace": "sergas", "deployment": "api-blue"}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sections(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]


def buttons_of(message: dict[str, Any], step_id: str) -> list[dict[str, Any]]:
    block = next(
        (b for b in message["blocks"] if b.get("block_id") == f"runbook-actions-{step_id}"), None
    )
    return [] if block is None else list(block["elements"])


def check_limits(message: dict[str, Any]) -> None:
    assert validate_blocks(message["blocks"]) == []
    assert len(message["blocks"]) <= 50
    for block in message["blocks"]:
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000


def test_progress_counts_done_steps_out_of_all() -> None:
    runbook = SHIPPED["APPROVAL_TIMEOUTS"]
    done = ["check-readiness", "classify-timeouts", "list-oldest-pending"]
    progress: Progress = {step: ("done", "U0000ONC01", at(i)) for i, step in enumerate(done)}

    message = render_checklist(runbook, progress, alert_group_id=42)

    assert sections(message)[0] == "*3/7 done*"
    assert message["text"] == "Runbook: Approval requests timing out (3/7 done)"
    assert message["blocks"][0]["text"]["text"] == "📋 Approval requests timing out"
    check_limits(message)


@pytest.mark.parametrize("runbook_id", [runbook.id for runbook in SHIPPED])
@pytest.mark.parametrize("state", ["pending", "done", "skipped", "running", "failed"])
def test_every_shipped_checklist_stays_within_slacks_limits(runbook_id: str, state: str) -> None:
    runbook = SHIPPED[runbook_id]
    progress: Progress = {step.id: (state, "U0000ONC01", at(1)) for step in runbook.steps}

    check_limits(render_checklist(runbook, progress, alert_group_id=1, labels=LABELS))


def test_each_step_shows_its_state_who_and_when() -> None:
    runbook = SHIPPED["SCALING"]
    progress: Progress = {
        "check-pods": ("done", "U0000ONC01", at(2)),
        "check-live-colour": ("skipped", "U0000ONC02", at(5)),
        "check-hpa": ("failed", "U0000ONC01", at(7)),
        "scale-out": ("running", "U0000ONC02", at(9)),
    }

    texts = sections(render_checklist(runbook, progress, alert_group_id=42, labels=LABELS))

    assert texts[0] == "*1/8 done* · 1 skipped"
    assert texts[1].startswith("✅ *1. Check the pods of the affected colour*\n")
    assert texts[1].endswith(
        "Action: `k8s.pods` (namespace=sergas, workload=api-blue)\n"
        "Done by <@U0000ONC01> <!date^1714532520^{date_short_pretty} {time}|2024-05-01 03:02 UTC>"
    )
    assert texts[2].startswith("⏭️ *2. ")
    assert "Skipped by <@U0000ONC02>" in texts[2]
    assert texts[3].startswith("⬜ *3. ")
    assert texts[4].startswith("❌ *4. ") and "Failed, run by <@U0000ONC01>" in texts[4]
    assert texts[7].startswith("⏳ *7. ") and "Running, started by <@U0000ONC02>" in texts[7]
    assert "Action: `k8s.scale` (namespace=sergas, deployment=api-blue, replicas=12)" in texts[7]
    assert texts[7].count("needs approval") == 1


def test_buttons_done_skip_and_run_only_where_they_make_sense() -> None:
    runbook = SHIPPED["SSE_CONNECTION_DROPS"]
    progress: Progress = {
        "check-recent-shift": ("done", "U1", at(1)),
        "check-logs": ("running", "U1", at(2)),
    }

    message = render_checklist(runbook, progress, alert_group_id=42)

    def labels(step_id: str) -> list[str]:
        return [button["text"]["text"] for button in buttons_of(message, step_id)]

    assert labels("check-recent-shift") == []  # done
    assert labels("check-logs") == ["Done", "Skip"]  # running: no second Run
    assert labels("check-pods") == ["Done", "Skip", "Run"]  # has an action
    assert labels("check-close-reasons") == ["Done", "Skip"]  # manual step
    styles = {b["text"]["text"]: b.get("style") for b in buttons_of(message, "restart-colour")}
    assert styles == {"Done": "primary", "Skip": None, "Run": "danger"}  # changes things


def test_every_button_value_round_trips_to_its_step() -> None:
    runbook = SHIPPED["SCALING"]
    message = render_checklist(runbook, {}, alert_group_id=123456789)

    seen = set()
    for step in runbook.steps:
        for button in buttons_of(message, step.id):
            parsed = parse_step_button(button["value"])
            assert (parsed.alert_group_id, parsed.runbook_id, parsed.version, parsed.step_id) == (
                123456789,
                "SCALING",
                runbook.version,
                step.id,
            )
            seen.add((step.id, parse_step_click(button["action_id"])))
    assert ("scale-out", "run") in seen and ("verify", "skip") in seen


VALUE = "rb1|42|SCALING|0123456789ab|check-pods"


@pytest.mark.parametrize(
    "value",
    [
        VALUE.replace("rb1", "rb2"),
        VALUE.replace("|42|", "|-42|"),
        VALUE.replace("|42|", "|042|"),
        VALUE.replace("|42|", "|0|"),
        VALUE.replace("|42|", "|4 2|"),
        VALUE.replace("|42|", "|9223372036854775808|"),
        VALUE.replace("|42|", "|12345678901234567890|"),
        VALUE.replace("SCALING", "../SCALING"),
        VALUE.replace("SCALING", "SCALING;rm"),
        VALUE.replace("0123456789ab", "0123456789AB"),
        VALUE.replace("0123456789ab", "0123"),
        VALUE.replace("check-pods", "Check_Pods"),
        VALUE.replace("check-pods", "check-pods|run"),
        VALUE + "|extra",
        VALUE.replace("|", ":"),
        VALUE + "\n",
        "",
        "42",
        '{"group": 42}',
        "rb1|42|" + "A" * 300 + "|0123456789ab|check-pods",
        None,
        42,
    ],
)
def test_a_tampered_button_value_is_rejected(value: object) -> None:
    assert parse_step_button(VALUE).step_id == "check-pods"
    with pytest.raises(ButtonError):
        parse_step_button(value)


@pytest.mark.parametrize("action_id", ["runbook.step.delete", "runbook.open", "", None, 1])
def test_an_unknown_action_id_is_rejected(action_id: object) -> None:
    with pytest.raises(ButtonError):
        parse_step_click(action_id)


def _largest_runbook(tmp_path: Path) -> Runbook:
    detail = ("Look at `<pod>` & its <b>logs</b>. " * 20)[:500]
    steps = "".join(
        f"  - id: step-{i}\n    title: '{f'Step {i} '.ljust(80, 'x')}'\n"
        f"    detail: '{detail}'\n"
        "    action: {type: k8s.scale, params: {namespace: s, deployment: d, replicas: 1}}\n"
        for i in range(10)
    )
    text = f"---\nid: big\ntitle: '{'T' * 150}'\nsteps:\n{steps}---\n"
    return parse_runbook(text, tmp_path / "big.md")


def test_the_largest_runbook_allowed_still_fits_and_is_escaped(tmp_path: Path) -> None:
    runbook = _largest_runbook(tmp_path)

    message = render_checklist(runbook, {}, alert_group_id=2**63 - 1)

    check_limits(message)
    assert "`&lt;pod&gt;` &amp; its &lt;b&gt;logs&lt;/b&gt;" in sections(message)[1]
    assert parse_step_button(buttons_of(message, "step-9")[0]["value"]).alert_group_id == 2**63 - 1
    assert "<pod>" not in str(message)


def test_progress_of_unknown_steps_and_states_is_ignored() -> None:
    runbook = SHIPPED["DATABASE_ISSUES"]
    progress: Progress = {
        "renamed-step": ("done", "U1", at(1)),
        "check-readiness": ("exploded", "U1", at(1)),
        "check-locks": ("done", "<!channel>", None),
    }

    message = render_checklist(runbook, progress, alert_group_id=1)

    texts = sections(message)
    assert texts[0] == "*1/8 done*"
    assert texts[1].startswith("⬜")
    assert "Done by &lt;!channel&gt;" in texts[4]
    assert not is_complete(runbook, progress)


def test_the_summary_says_who_did_which_step_and_how_long_it_took() -> None:
    runbook = SHIPPED["APPROVAL_TIMEOUTS"]
    progress: Progress = {
        "check-readiness": ("done", "U0000ONC01", at(2)),
        "classify-timeouts": ("done", "U0000ONC01", at(5)),
        "list-oldest-pending": ("skipped", "U0000ONC02", at(6)),
        # Finished out of list order: times run in the order things happened.
        "nudge-approvers": ("done", "U0000ONC02", at(20)),
        "check-notifications": ("done", "U0000ONC01", at(12)),
        "check-zoho-writeback": ("done", "U0000ONC01", at(15)),
        "silence-known-backlog": ("skipped", "U0000ONC02", at(21.5)),
    }
    assert is_complete(runbook, progress)

    summary = render_summary(runbook, progress, opened_at=T0)

    assert validate_blocks(summary["blocks"]) == []
    assert summary["text"] == "Runbook finished: Approval requests timing out in 21m"
    assert (
        summary["blocks"][0]["text"]["text"] == "✅ Runbook finished: Approval requests timing out"
    )
    total, steps = sections(summary)
    assert total == "*5* done and *2* skipped in *21m*"
    assert steps.split("\n") == [
        "✅ 1. Check that the API and its datastores are ready · <@U0000ONC01> · 2m",
        "✅ 2. Tell expired requests from write-back timeouts · <@U0000ONC01> · 3m",
        "⏭️ 3. List the oldest pending requests and their approvers · <@U0000ONC02> · 1m",
        "✅ 4. Check that approvers are being notified · <@U0000ONC01> · 6m",
        "✅ 5. Check Zoho write-backs for apply timeouts · <@U0000ONC01> · 3m",
        "✅ 6. Nudge or delegate the approvers of requests close to expiry · <@U0000ONC02> · 5m",
        "⏭️ 7. Silence this alert for a known, owned backlog · <@U0000ONC02> · 1m",
    ]
    people = summary["blocks"][-1]["elements"][0]["text"]
    assert people == "Worked on by <@U0000ONC01> (4), <@U0000ONC02> (3)"


def test_a_summary_of_an_unfinished_runbook_shows_the_open_steps() -> None:
    runbook = SHIPPED["SCALING"]
    progress: Progress = {"check-pods": ("done", "U1", at(4))}

    summary = render_summary(runbook, progress, opened_at=T0, finished_at=at(30))

    total, steps = sections(summary)
    assert total == "*1* done and *0* skipped in *30m*"
    assert (
        steps.split("\n")[1]
        == "⬜ 2. Confirm the alert is on the colour that takes traffic · not finished"
    )


def test_an_alert_without_a_runbook_says_so() -> None:
    assert no_runbook_text() == "No runbook covers this alert."
    message = render_no_runbook("Disk <full>")

    assert validate_blocks(message["blocks"]) == []
    assert sections(message)[0].startswith("No runbook covers *Disk &lt;full&gt;*. Add one under")


def test_a_refused_run_says_why_and_that_nothing_ran() -> None:
    step = SHIPPED["SCALING"].steps[6]

    text = render_refusal(step, "replicas: 12 is above the maximum of 10 replicas")

    assert text == (
        "Cannot run *Scale the affected colour out to 12 replicas*: "
        "replicas: 12 is above the maximum of 10 replicas. Nothing was run."
    )


def test_a_button_value_is_what_step_button_value_writes() -> None:
    runbook = SHIPPED["SCALING"]
    value = step_button_value(42, runbook, runbook.steps[0])

    assert value == f"rb1|42|SCALING|{runbook.version}|check-pods"

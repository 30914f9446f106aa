"""The runbook checklist, its completion summary and the "no runbook" note as Block Kit.

Plain data only: the Slack layer posts these and updates the checklist in place as the
progress (from the database) changes. Everything stays within Slack's limits (50 blocks,
3,000 characters a section, 25 elements an actions block), since a rejected update would
leave the thread showing stale progress.

Step buttons carry (alert group, runbook, runbook version, step) in their value. A value
comes back from Slack as untrusted input, so `parse_step_button` accepts exactly what
`step_button_value` writes and nothing else; the handler must still check that the group
is the one the clicked message belongs to, and that the version is the current one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from alerts.blocks import clip, packed_sections
from alerts.durations import format_duration
from alerts.runbooks import messages as m
from alerts.runbooks.model import (
    MAX_RUNBOOK_ID,
    MAX_STEP_ID,
    RUNBOOK_ID,
    STEP_ID,
    VERSION_LENGTH,
    Runbook,
    Step,
)
from alerts.runbooks.specs import SPECS, StepSpecs
from alerts.runbooks.templates import TemplateError, fill
from alerts.slack_text import escape

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FALLBACK = 3000

StepState = Literal["pending", "done", "skipped", "running", "failed"]
STEP_STATES: tuple[StepState, ...] = ("pending", "done", "skipped", "running", "failed")
FINISHED: frozenset[str] = frozenset({"done", "skipped"})
# step id -> (state, Slack user id, when): what the database holds per step.
ProgressEntry = tuple[str, str | None, datetime | None]
Progress = Mapping[str, ProgressEntry]

StepClick = Literal["done", "skip", "run"]
ACTION_IDS: dict[StepClick, str] = {
    "done": "runbook.step.done",
    "skip": "runbook.step.skip",
    "run": "runbook.step.run",
}
_CLICKS: dict[str, StepClick] = {action_id: click for click, action_id in ACTION_IDS.items()}

BUTTON_PREFIX = "rb1"
_GROUP_ID = re.compile(r"[1-9][0-9]{0,18}")
MAX_GROUP_ID = 2**63 - 1  # a BIGINT primary key
_VERSION = re.compile(f"[0-9a-f]{{{VERSION_LENGTH}}}")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
MAX_BUTTON_VALUE = 256

Block = dict[str, Any]


class ButtonError(ValueError):
    """A button value or action id the bot did not write; the message is for logs."""


@dataclass(frozen=True)
class StepButton:
    alert_group_id: int
    runbook_id: str
    version: str
    step_id: str


def step_button_value(alert_group_id: int, runbook: Runbook, step: Step) -> str:
    return "|".join((BUTTON_PREFIX, str(alert_group_id), runbook.id, runbook.version, step.id))


def parse_step_button(value: object) -> StepButton:
    """The button a value names; ButtonError for anything `step_button_value` would not write."""
    if not isinstance(value, str) or len(value) > MAX_BUTTON_VALUE:
        raise ButtonError("step button value is not a short string")
    parts = value.split("|")
    if len(parts) != 5 or parts[0] != BUTTON_PREFIX:
        raise ButtonError("step button value has the wrong shape")
    _, group, runbook_id, version, step_id = parts
    if not _GROUP_ID.fullmatch(group) or int(group) > MAX_GROUP_ID:
        raise ButtonError("step button value has no valid alert group id")
    if not RUNBOOK_ID.fullmatch(runbook_id) or len(runbook_id) > MAX_RUNBOOK_ID:
        raise ButtonError("step button value has no valid runbook id")
    if not _VERSION.fullmatch(version):
        raise ButtonError("step button value has no valid runbook version")
    if not STEP_ID.fullmatch(step_id) or len(step_id) > MAX_STEP_ID:
        raise ButtonError("step button value has no valid step id")
    return StepButton(int(group), runbook_id, version, step_id)


def parse_step_click(action_id: object) -> StepClick:
    """Which button was clicked (done, skip, run) from its action id."""
    click = _CLICKS.get(action_id) if isinstance(action_id, str) else None
    if click is None:
        raise ButtonError("not a runbook step action id")
    return click


def state_of(progress: Progress, step_id: str) -> StepState:
    entry = progress.get(step_id)
    state = entry[0] if entry else "pending"
    return next((known for known in STEP_STATES if known == state), "pending")


@dataclass(frozen=True)
class Counts:
    done: int
    skipped: int
    total: int

    @property
    def complete(self) -> bool:
        return self.done + self.skipped == self.total


def counts(runbook: Runbook, progress: Progress) -> Counts:
    # Only the runbook's current steps count: progress of a renamed step is history.
    states = [state_of(progress, step.id) for step in runbook.steps]
    return Counts(states.count("done"), states.count("skipped"), len(states))


def is_complete(runbook: Runbook, progress: Progress) -> bool:
    return counts(runbook, progress).complete


def _user(user: str | None) -> str:
    if user and _USER_ID.fullmatch(user):
        return f"<@{user}>"
    return escape(user) if user else m.SOMEONE


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return m.STATE_WHEN.format(
        unix=int(moment.timestamp()), fallback=moment.strftime("%Y-%m-%d %H:%M UTC")
    )


_STATE_LINES: dict[str, str] = {
    "done": m.STATE_DONE,
    "skipped": m.STATE_SKIPPED,
    "running": m.STATE_RUNNING,
    "failed": m.STATE_FAILED,
}


def _state_line(progress: Progress, step_id: str) -> str:
    state = state_of(progress, step_id)
    if state == "pending":
        return ""
    _, user, at = progress[step_id]
    return _STATE_LINES[state].format(user=_user(user), when=_when(at)).strip()


def _action_line(
    step: Step,
    registry: StepSpecs,
    labels: Mapping[str, str] | None,
    annotations: Mapping[str, str] | None,
) -> str:
    action = step.action
    if action is None:
        return ""
    shown: list[str] = []
    for name, value in action.params.items():
        text = str(value)
        if isinstance(value, str) and labels is not None:
            try:
                text = fill(value, labels, annotations or {})
            except TemplateError:
                pass  # shown as written; Run explains the problem when clicked
        shown.append(f"{name}={clip(text, 200)}")
    line = m.ACTION_LINE.format(type=action.type)
    if shown:
        line += " (" + escape(", ".join(shown)) + ")"
    spec = registry.get(action.type)
    if spec is not None and (spec.changes_things or step.requires_approval):
        line += " · " + m.NEEDS_APPROVAL
    return line


def _button(label: str, click: StepClick, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "action_id": ACTION_IDS[click],
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _step_buttons(
    alert_group_id: int, runbook: Runbook, step: Step, state: StepState, registry: StepSpecs
) -> list[Block]:
    if state in FINISHED:
        return []
    value = step_button_value(alert_group_id, runbook, step)
    buttons = [
        _button(m.DONE_BUTTON, "done", value, "primary"),
        _button(m.SKIP_BUTTON, "skip", value),
    ]
    # No second Run while one is running; Done and Skip stay, in case a run never reports
    # back (the bot restarted mid-run) and people finish the step by hand.
    if step.action is not None and state != "running":
        spec = registry.get(step.action.type)
        changes = spec is not None and spec.changes_things
        buttons.append(_button(m.RUN_BUTTON, "run", value, "danger" if changes else None))
    return buttons


def _section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}
    if block_id:
        block["block_id"] = block_id
    return block


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, MAX_SECTION)}]}


def _header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": clip(text, MAX_HEADER), "emoji": True},
    }


def progress_text(runbook: Runbook, progress: Progress) -> str:
    """ "3/7 done" (plus skipped steps), as shown under the checklist's title."""
    tally = counts(runbook, progress)
    text = m.PROGRESS.format(done=tally.done, total=tally.total)
    if tally.skipped:
        text += " · " + m.PROGRESS_SKIPPED.format(count=tally.skipped)
    if tally.complete:
        text += " · " + m.PROGRESS_COMPLETE
    return text


def render_checklist(
    runbook: Runbook,
    progress: Progress,
    *,
    alert_group_id: int,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    registry: StepSpecs = SPECS,
) -> dict[str, Any]:
    """The checklist message ({"text", "blocks"}) for one alert group's thread.

    With the alert's labels, action parameters are shown filled in, so whoever clicks
    Run sees what it will act on.
    """
    blocks: list[Block] = [
        _header(m.CHECKLIST_HEADER.format(title=runbook.title)),
        _section(progress_text(runbook, progress), "runbook-progress"),
    ]
    # Two blocks a step; the header, progress and footer take three.
    room = (MAX_BLOCKS - 3) // 2
    for number, step in enumerate(runbook.steps[:room], start=1):
        state = state_of(progress, step.id)
        lines = [
            f"{m.STATE_ICON[state]} *{number}. {escape(step.title)}*",
            escape(step.detail),
            _action_line(step, registry, labels, annotations),
            _state_line(progress, step.id),
        ]
        blocks.append(_section("\n".join(filter(None, lines)), f"runbook-step-{step.id}"))
        buttons = _step_buttons(alert_group_id, runbook, step, state, registry)
        if buttons:
            blocks.append(
                {"type": "actions", "block_id": f"runbook-actions-{step.id}", "elements": buttons}
            )
    hidden = len(runbook.steps) - room
    footer = m.CHECKLIST_FOOTER.format(id=runbook.id, version=runbook.version)
    if hidden > 0:
        footer = m.MORE_STEPS.format(count=hidden) + " · " + footer
    blocks.append(_context(footer))
    tally = counts(runbook, progress)
    fallback = m.CHECKLIST_FALLBACK.format(
        title=runbook.title, progress=f"{tally.done}/{tally.total} done"
    )
    return {"text": clip(fallback, MAX_FALLBACK), "blocks": blocks}


def _step_times(
    runbook: Runbook, progress: Progress, opened_at: datetime
) -> tuple[dict[str, timedelta], datetime]:
    """How long each finished step took, and when the last one finished."""
    finished = sorted(
        (entry[2], step.id)
        for step in runbook.steps
        if (entry := progress.get(step.id)) and entry[0] in FINISHED and entry[2]
    )
    took: dict[str, timedelta] = {}
    previous = opened_at
    for at, step_id in finished:
        took[step_id] = max(at - previous, timedelta(0))
        previous = max(previous, at)
    return took, previous


def render_summary(
    runbook: Runbook,
    progress: Progress,
    *,
    opened_at: datetime,
    finished_at: datetime | None = None,
) -> dict[str, Any]:
    """Who did which step and how long it took, overall and per step.

    A step's time runs from the previous step finished (in time order, not list order)
    or from the opening of the checklist, which is what people experience as its cost.
    """
    took, previous = _step_times(runbook, progress, opened_at)
    end = finished_at or previous
    lines: list[str] = []
    people: Counter[str] = Counter()
    for number, step in enumerate(runbook.steps, start=1):
        state = state_of(progress, step.id)
        title = escape(step.title)
        if state in FINISHED:
            user = progress[step.id][1]
            people[_user(user)] += 1
            duration = format_duration(took[step.id]) if step.id in took else "?"
            lines.append(
                m.SUMMARY_STEP.format(
                    icon=m.STATE_ICON[state],
                    number=number,
                    title=title,
                    user=_user(user),
                    duration=duration,
                )
            )
        else:
            lines.append(
                m.SUMMARY_STEP_OPEN.format(icon=m.STATE_ICON[state], number=number, title=title)
            )
    tally = counts(runbook, progress)
    total = format_duration(max(end - opened_at, timedelta(0)))
    blocks: list[Block] = [
        _header(m.SUMMARY_HEADER.format(title=runbook.title)),
        _section(m.SUMMARY_TOTAL.format(done=tally.done, skipped=tally.skipped, duration=total)),
        *packed_sections(lines),
    ]
    if people:
        names = ", ".join(
            m.SUMMARY_PERSON.format(user=user, count=count) for user, count in people.items()
        )
        blocks.append(_context(m.SUMMARY_PEOPLE.format(people=names)))
    fallback = m.SUMMARY_FALLBACK.format(title=runbook.title, duration=total)
    return {"text": clip(fallback, MAX_FALLBACK), "blocks": blocks[:MAX_BLOCKS]}


def no_runbook_text(alert_name: str | None = None) -> str:
    """The short note ("No runbook covers this alert.") for the alert message itself."""
    return m.NO_RUNBOOK_FOR.format(alert=escape(alert_name)) if alert_name else m.NO_RUNBOOK


def render_no_runbook(alert_name: str | None = None) -> dict[str, Any]:
    """The thread message for an alert that no runbook covers, with how to add one."""
    text = no_runbook_text(alert_name) + " " + m.NO_RUNBOOK_HINT
    return {"text": clip(text, MAX_FALLBACK), "blocks": [_section(text)]}


def render_refusal(step: Step, problem: str) -> str:
    """Why a Run click did nothing (a refused template value, a scale above the maximum)."""
    return m.STEP_REFUSED.format(step=escape(step.title), problem=escape(problem))

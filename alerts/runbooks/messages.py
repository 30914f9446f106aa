"""Every user-facing string of the runbook side (Slack texts and the reasons a value is
refused), so the tone stays consistent and the wording can be changed in one place."""

from __future__ import annotations

# Templates (shown in lint output and, for a refused value, in Slack).
TEMPLATE_UNKNOWN_NAMESPACE = (
    "template {template} refers to '{ns}', which is never filled in: only "
    "{{{{ labels.NAME }}}} and {{{{ annotations.NAME }}}} are"
)
TEMPLATE_UNREACHABLE = (
    "template {template} is never filled in: only {{{{ labels.NAME }}}} and "
    "{{{{ annotations.NAME }}}} are (no filters, no expressions)"
)
TEMPLATE_MALFORMED = "malformed template in {text!r}: every '{{{{' needs a closing '}}}}'"
TEMPLATE_MISSING = "the alert has no {kind} '{name}'"
TEMPLATE_EMPTY = "the alert's {kind} '{name}' is empty"
PARAMS_REFUSED = "the filled-in value was refused: {problems}"

# The checklist message.
CHECKLIST_HEADER = "📋 {title}"
CHECKLIST_FALLBACK = "Runbook: {title} ({progress})"
PROGRESS = "*{done}/{total} done*"
PROGRESS_SKIPPED = "{count} skipped"
PROGRESS_COMPLETE = "✅ Every step is done or skipped."
CHECKLIST_FOOTER = "Runbook `{id}` · version `{version}` · progress is shared with everyone here"
MORE_STEPS = "+{count} more step(s): see the runbook document"

STATE_ICON = {
    "pending": "⬜",
    "done": "✅",
    "skipped": "⏭️",
    "running": "⏳",
    "failed": "❌",
}
STATE_DONE = "Done by {user} {when}"
STATE_SKIPPED = "Skipped by {user} {when}"
STATE_RUNNING = "Running, started by {user} {when}"
STATE_FAILED = "Failed, run by {user} {when}"
STATE_WHEN = "<!date^{unix}^{{date_short_pretty}} {{time}}|{fallback}>"
SOMEONE = "someone"

ACTION_LINE = "Action: `{type}`"
NEEDS_APPROVAL = "needs approval"

DONE_BUTTON = "Done"
SKIP_BUTTON = "Skip"
RUN_BUTTON = "Run"

# The completion summary.
SUMMARY_HEADER = "✅ Runbook finished: {title}"
SUMMARY_FALLBACK = "Runbook finished: {title} in {duration}"
SUMMARY_TOTAL = "*{done}* done and *{skipped}* skipped in *{duration}*"
SUMMARY_STEP = "{icon} {number}. {title} · {user} · {duration}"
SUMMARY_STEP_OPEN = "{icon} {number}. {title} · not finished"
SUMMARY_PEOPLE = "Worked on by {people}"
SUMMARY_PERSON = "{user} ({count})"

# Alerts without a runbook.
NO_RUNBOOK = "No runbook covers this alert."
NO_RUNBOOK_FOR = "No runbook covers *{alert}*."
NO_RUNBOOK_HINT = (
    "Add one under `runbooks/` (see runbooks/README.md), or point the alert rule's "
    "`runbook` annotation at an existing one."
)

# Answers to clicks the bot refuses (used by the Slack handlers); nothing is run for these.
BUTTON_INVALID = "That button is not valid, so nothing was done."
BUTTON_OTHER_ALERT = "That button belongs to another alert's checklist, so nothing was done."
BUTTON_STALE = (
    "The runbook *{title}* changed since this checklist was posted, so nothing was done. "
    "The checklist has been refreshed: check the step and click again."
)
BUTTON_UNKNOWN_STEP = "The runbook *{title}* has no step `{step}` any more, so nothing was done."
STEP_REFUSED = "Cannot run *{step}*: {problem}. Nothing was run."

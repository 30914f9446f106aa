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

# The running feature: opening a checklist, running a step, approvals.
NO_RUNBOOK_LINKED = "No runbook covers this alert, so there is no checklist to open."
RUNBOOK_GONE = (
    "The runbook `{id}` linked to this alert is no longer loaded (renamed or removed), "
    "so there is no checklist to open."
)
ALERT_NOT_POSTED = "The alert message is not in Slack yet; try again in a moment."
CHECKLIST_REFRESHED = "The checklist is already in this alert's thread; it has been refreshed."
UNKNOWN_MESSAGE = "That button is not on a checklist the bot knows, so nothing was done."
ALREADY_FINISHED = "That step was already {state} by {user}, so nothing was changed."
ALREADY_RUNNING = "That step is already running; wait for its result in the thread."
NOT_RUNNABLE = "That step has nothing the bot can run; mark it Done or Skip instead."

RUN_OUTPUT = "*{step}* · `{type}` · run by <@{user}>"
RUN_FAILED = "❌ *{step}* failed (`{type}`, run by <@{user}>): {error}"
NO_EXECUTOR = "the bot has no executor for `{type}` in this build"

NEEDS_APPROVAL_NOT_CONNECTED = (
    "🔐 <@{user}> asked to run *{step}*: `{type}` with {params}. "
    "This step needs approval before it runs ({why}). "
    "*Approval by reaction is not connected in this build yet: nothing was run.* "
    "Do it by hand if it is needed, then mark the step Done."
)
NEEDS_APPROVAL_EPHEMERAL = (
    "*{step}* needs approval before it runs; the request is in the thread. Nothing was run."
)
WHY_CHANGES = "`{type}` changes the system"
WHY_REQUIRED = "the runbook requires approval for it"

APPROVAL_TITLE = "Run {step} ({type})"
APPROVAL_INTRO = (
    "<@{user}> asks to run *{step}* of runbook `{runbook}`: `{type}` with {params}. "
    "It needs approval because {why}; nothing runs until it is approved."
)
SILENCE_CHANGED = (
    "the alert group's alerts changed since the silence was approved, so it would match "
    "other labels than the approver saw; Run it again to ask for approval of the new ones"
)
SILENCE_SCOPE = " The silence will match {matchers}."
SILENCE_BROADER = (
    " ⚠️ *That is broader than this alert group*: {why}. Approving confirms it; without "
    "this confirmation a broader silence is refused."
)
APPROVAL_FALLBACK = "{outcome}: *{step}* needs approval to run `{type}` with {params}"
NO_STEP_APPROVERS = "nobody (set `runbooks.approvers` or `deploy.approvers`)"
NOT_STEP_APPROVER = (
    "Your reaction does not count: you are not an approver of runbook steps "
    "(`runbooks.approvers`, else `deploy.approvers`). (You are told this once per request.)"
)
STEP_SUCCEEDED = "`{type}` ran; its output is in the thread."
STEP_FAILED = "`{type}` failed; the error is in the thread."
STEP_NOT_RUN = "⚠️ *{step}* was approved but not run: {reason}"
STEP_INTERRUPTED = "the bot stopped before the step finished; check its effect, then Run it again"
NOT_CONNECTED = "approval by reaction is not connected in this build"
NOT_ONCALL = (
    "Only the on-call group (`runbooks.oncall`, else this alert's responders: its route's "
    "`responders` or `alerts.responders`) may run runbook steps or mark them Done or Skip. "
    "Nothing was changed."
)

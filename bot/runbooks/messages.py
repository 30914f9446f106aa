"""User-facing strings of the running runbook feature (the checklist's own texts live in
alerts/runbooks/messages.py)."""

from __future__ import annotations

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

RUN_STARTED = "▶️ <@{user}> ran *{step}* (`{type}`)."
RUN_OUTPUT = "*{step}* · `{type}` · run by <@{user}>"
RUN_FAILED = "❌ *{step}* failed (`{type}`, run by <@{user}>): {error}"
NO_EXECUTOR = "the bot has no executor for `{type}` in this build"

NEEDS_APPROVAL = (
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
